"""`Client(write_key, url)` against the real server: what it sends is what the API reads back."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from tests.sdk_e2e.conftest import Errors, MakeClient
from tests.sdk_e2e.support import Reader


def test_track_and_identify_are_read_back_as_sent(
    reader: Reader, make_client: MakeClient, errors: Errors
) -> None:
    client = make_client()
    signed_up = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    exported_ms = int((signed_up + timedelta(minutes=30)).timestamp() * 1000)
    client.track(
        "signup",
        "user-1",
        {"plan": "pro", "seats": 3, "trial": False, "tags": ["a", "b"]},
        user_email="ann@example.com",
        user_name="Ann",
        session_id="sess-1",
        timestamp=signed_up,
    )
    client.track("report_exported", "anon-7", {"format": "csv"}, timestamp=exported_ms)
    client.track("pinged", None)  # no user: a server-side event on the client's session
    client.identify("anon-7", "user-1")
    assert client.flush(timeout=30)
    assert errors == []

    signup, exported, pinged = reader.events(since="1d")
    assert (signup["event"], signup["user_id"], signup["session_id"]) == (
        "signup",
        "user-1",
        "sess-1",
    )
    assert signup["properties"] == {"plan": "pro", "seats": 3, "trial": False, "tags": ["a", "b"]}
    assert (signup["user_email"], signup["user_name"]) == ("ann@example.com", "Ann")
    assert signup["timestamp"] == int(signed_up.timestamp() * 1000)
    assert signup["source"] == "server"

    assert (exported["event"], exported["properties"]) == ("report_exported", {"format": "csv"})
    assert exported["timestamp"] == exported_ms
    assert exported["session_id"] == client.session_id
    # identify() stitched the anonymous id to the user, for the earlier event too
    assert (exported["user_id"], exported["resolved_user_id"]) == ("anon-7", "user-1")

    # no user: the server gives it a cookieless visitor id rather than a user
    assert pinged["event"] == "pinged" and pinged["user_id"] not in (None, "user-1")
    # every event carries the SDK's idempotency id, a UUID
    assert all(uuid.UUID(e["id"]).version == 4 for e in (signup, exported, pinged))

    rows = reader.query(
        metrics=["event_count", "unique_users"],
        group_by=["event"],
        filters=[{"field": "user_id", "op": "eq", "value": "user-1"}],
        date_from="1d",
    )
    assert {r["event"]: (r["event_count"], r["unique_users"]) for r in rows} == {
        "signup": (1, 1),
        "report_exported": (1, 1),
    }


def test_the_async_path_delivers_too(
    reader: Reader, make_client: MakeClient, errors: Errors
) -> None:
    client = make_client()

    async def main() -> bool:
        await asyncio.gather(*(client.atrack("async_event", f"u{i}", {"i": i}) for i in range(20)))
        await client.aidentify("anon-async", "u0")
        return await client.aflush(timeout=30)

    assert asyncio.run(main())
    assert errors == []
    events = reader.events(event="async_event")
    assert sorted(e["properties"]["i"] for e in events) == list(range(20))
    assert reader.count({"field": "event", "op": "eq", "value": "async_event"}) == 20


def test_an_experiment_exposure_is_recorded_once_per_user(
    reader: Reader, make_client: MakeClient, errors: Errors
) -> None:
    client = make_client()
    seen = {client.variant("pricing", "user-1", ["control", "annual"]) for _ in range(3)}
    client.variant("pricing", "user-2", ["control", "annual"])
    assert client.flush(timeout=30)
    assert errors == []

    exposures = reader.events(event="$experiment_exposure")
    assert [(e["user_id"], e["properties"]["experiment"]) for e in exposures] == [
        ("user-1", "pricing"),
        ("user-2", "pricing"),
    ]
    assert {exposures[0]["properties"]["variant"]} == seen
