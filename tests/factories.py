"""Build events and write them through the real ingest path (``POST /track/batch``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

DEFAULT_TS = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def ms(when: datetime | str) -> int:
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def event(
    name: str,
    *,
    user: str | None = "u1",
    session: str | None = "s1",
    ts: datetime | str = DEFAULT_TS,
    id: str | None = None,
    **properties: Any,
) -> dict[str, Any]:
    return {
        "event": name,
        "user_id": user,
        "session_id": session,
        "timestamp": ms(ts),
        "id": id or uuid.uuid4().hex,
        "properties": properties,
    }


def pageview(path: str = "/", **kwargs: Any) -> dict[str, Any]:
    return event("page_view", path=path, **kwargs)


def populate(base_url: str, token: str, events: list[dict[str, Any]]) -> None:
    """Send events in batches of 100; every one must be accepted."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for start in range(0, len(events), 100):
            chunk = events[start : start + 100]
            r = client.post("/track/batch", json={"token": token, "events": chunk})
            assert r.status_code == 202, r.text
            assert r.json()["count"] == len(chunk), r.text


CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)
