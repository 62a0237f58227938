"""Delivery through a real HTTP server: batching, retries, give-ups, drops, flush."""

from __future__ import annotations

import datetime as dt
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable

import httpx

from agentlytics_sdk import APIError, Client, EventsRejected, InvalidEvent, QueueFull

from sdk_loopback import REJECT_EVENT, Errors, LiveServer

MakeClient = Callable[..., Client]


def test_an_event_arrives_in_the_native_wire_format(
    server: LiveServer, make_client: MakeClient
) -> None:
    client = make_client()
    when = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    client.track(
        "signup",
        "user-1",
        {"plan": "pro", "seats": 3},
        user_email="a@example.com",
        user_name="Ann",
        session_id="s-1",
        timestamp=when,
    )
    client.track("login", "user-1")
    assert client.flush(timeout=10)

    signup, login = server.recorder.events()
    assert signup == {
        "token": "aat_test",
        "event": "signup",
        "properties": {"plan": "pro", "seats": 3},
        "user_id": "user-1",
        "session_id": "s-1",
        "timestamp": 1735787045000,
        "user_email": "a@example.com",
        "user_name": "Ann",
        "id": signup["id"],
    }
    assert uuid.UUID(signup["id"]).version == 4
    assert login["session_id"] == client.session_id
    assert abs(login["timestamp"] - time.time() * 1000) < 60_000
    assert login["properties"] == {}


def test_events_are_batched_by_count(server: LiveServer, make_client: MakeClient) -> None:
    client = make_client(flush_at=10, flush_interval=5)
    for i in range(25):
        client.track("e", f"u{i}")
    assert client.flush(timeout=10)

    sizes = [len(body["events"]) for body in server.recorder.accepted()]
    assert sum(sizes) == 25
    assert max(sizes) == 10


def test_a_batch_never_exceeds_the_server_limit_of_100(
    server: LiveServer, make_client: MakeClient
) -> None:
    client = make_client(flush_at=1000, flush_interval=5)
    for i in range(250):
        client.track("e", f"u{i}")
    assert client.flush(timeout=10)

    sizes = [len(body["events"]) for body in server.recorder.accepted()]
    assert sum(sizes) == 250
    assert max(sizes) == 100


def test_events_are_batched_by_bytes(server: LiveServer, make_client: MakeClient) -> None:
    client = make_client(max_batch_bytes=2_000, flush_interval=5)
    for i in range(30):
        client.track("e", f"u{i}", {"pad": "x" * 300})
    assert client.flush(timeout=10)

    attempts = server.recorder.attempts
    assert sum(len(a.body["events"]) for a in attempts) == 30
    assert all(a.size <= 2_000 for a in attempts)
    assert len(attempts) > 1


def test_a_lone_event_is_sent_after_the_interval_without_flush(
    server: LiveServer, make_client: MakeClient
) -> None:
    client = make_client(flush_interval=0.05)
    client.track("alone", "u")
    assert server.recorder.wait_for_events(1)[0]["event"] == "alone"


def test_429_and_503_are_retried_without_losing_or_duplicating_events(
    server: LiveServer, make_client: MakeClient, errors: Errors
) -> None:
    server.recorder.fail_next(1, 429, {"Retry-After": "1"})
    server.recorder.fail_next(2, 503)
    client = make_client(flush_at=20)
    for i in range(60):
        client.track("e", f"u{i}")
    assert client.flush(timeout=30)

    events = server.recorder.events()
    ids = Counter(e["id"] for e in events)
    assert len(ids) == 60
    assert set(ids.values()) == {1}
    assert {e["user_id"] for e in events} == {f"u{i}" for i in range(60)}
    assert errors.calls == []
    failed = [a for a in server.recorder.attempts if a.status != 202]
    assert [a.status for a in failed] == [429, 503, 503]


def test_a_retry_resends_the_same_ids(server: LiveServer, make_client: MakeClient) -> None:
    server.recorder.fail_next(1, 503, {"Retry-After": "0"})
    client = make_client()
    client.track("e", "u")
    assert client.flush(timeout=10)

    first, second = server.recorder.attempts
    assert first.status == 503
    assert first.body == second.body


def test_retry_after_is_honoured(server: LiveServer, make_client: MakeClient) -> None:
    server.recorder.fail_next(1, 429, {"Retry-After": "1"})
    client = make_client()
    client.track("e", "u")
    assert client.flush(timeout=10)

    first, second = server.recorder.attempts
    assert second.at - first.at >= 0.95


def test_other_4xx_is_given_up_at_once_and_reported_once(
    server: LiveServer, make_client: MakeClient, errors: Errors
) -> None:
    server.recorder.fail_next(1, 400)
    client = make_client()
    client.track("bad", "u")
    assert client.flush(timeout=10)

    assert len(server.recorder.attempts) == 1
    errors.wait_for(1)
    [(exc, items)] = errors.calls
    assert isinstance(exc, APIError)
    assert exc.status == 400
    assert [item["event"] for item in items] == ["bad"]


def test_retries_stop_after_max_retries(
    server: LiveServer, make_client: MakeClient, errors: Errors
) -> None:
    server.recorder.fail_next(10, 503, {"Retry-After": "0"})
    client = make_client(max_retries=2)
    client.track("e", "u")
    assert client.flush(timeout=10)

    assert len(server.recorder.attempts) == 3
    [(exc, items)] = errors.calls
    assert isinstance(exc, APIError)
    assert exc.status == 503
    assert len(items) == 1


def test_events_the_server_rejects_are_reported_and_not_retried(
    server: LiveServer, make_client: MakeClient, errors: Errors
) -> None:
    client = make_client()
    client.track("fine", "u")
    client.track(REJECT_EVENT, "u")
    assert client.flush(timeout=10)

    assert len(server.recorder.attempts) == 1
    [(exc, items)] = errors.calls
    assert isinstance(exc, EventsRejected)
    assert exc.rejected[0]["index"] == 1
    assert [item["event"] for item in items] == [REJECT_EVENT]


def test_a_full_queue_drops_new_events_and_reports_them(
    server: LiveServer, make_client: MakeClient, errors: Errors
) -> None:
    server.recorder.gate.clear()
    client = make_client(max_queue_size=5, flush_at=1)
    client.track("e", "u0")
    # The first event is in flight (held by the server); the next five fill the queue.
    assert server.recorder.wait_for(lambda r: r.arrived == 1)
    for i in range(1, 9):
        client.track("e", f"u{i}")
    server.recorder.gate.set()
    assert client.flush(timeout=10)

    assert [e["user_id"] for e in server.recorder.events()] == [f"u{i}" for i in range(6)]
    dropped = [items[0]["user_id"] for exc, items in errors.calls if isinstance(exc, QueueFull)]
    assert dropped == ["u6", "u7", "u8"]


def test_flush_drains_everything_enqueued(server: LiveServer, make_client: MakeClient) -> None:
    client = make_client(flush_interval=10)
    for i in range(150):
        client.track("e", f"u{i}")
    assert client.flush(timeout=10)
    assert len(server.recorder.events()) == 150


def test_flush_gives_up_at_its_timeout(server: LiveServer, make_client: MakeClient) -> None:
    server.recorder.gate.clear()
    client = make_client()
    client.track("e", "u")
    started = time.monotonic()
    assert client.flush(timeout=0.2) is False
    assert time.monotonic() - started < 5
    server.recorder.gate.set()
    assert client.flush(timeout=10)


def test_identify_is_sent_to_the_identify_endpoint(
    server: LiveServer, make_client: MakeClient
) -> None:
    client = make_client()
    client.identify("anon-1", "user-1")
    assert client.flush(timeout=10)
    assert server.recorder.accepted("/identify") == [
        {"token": "aat_test", "previous_id": "anon-1", "user_id": "user-1"}
    ]


def test_nothing_raises_with_a_dead_server(errors: Errors) -> None:
    client = Client("aat_test", "http://127.0.0.1:1", on_error=errors, max_retries=1)
    try:
        client.track("e", "u")
        client.identify("a", "b")
        assert client.flush(timeout=10)
    finally:
        client.shutdown(timeout=10)
    assert len(errors.calls) == 2
    assert all(isinstance(exc, httpx.ConnectError) for exc, _ in errors.calls)


def test_nothing_raises_on_bad_input(
    server: LiveServer, make_client: MakeClient, errors: Errors
) -> None:
    client = make_client()
    client.track("", "u")
    client.track(None, "u")  # type: ignore[arg-type]
    client.track("e", "u", ["not", "a", "mapping"])  # type: ignore[arg-type]
    client.track("e", "u", timestamp="yesterday")  # type: ignore[arg-type]
    client.track("e", "u", {"nan": math.nan})
    client.identify("", "u")
    client.track("odd-values", "u", {"when": dt.date(2025, 1, 1), "obj": object(), "set": {1}})
    assert client.flush(timeout=10)

    assert len(errors.calls) == 6
    assert all(isinstance(exc, InvalidEvent) for exc, _ in errors.calls)
    [event] = server.recorder.events()
    assert event["properties"]["when"] == "2025-01-01"
    assert event["properties"]["set"] == [1]


def test_an_int_user_id_is_sent_as_a_string(server: LiveServer, make_client: MakeClient) -> None:
    client = make_client()
    client.track("e", 42)  # type: ignore[arg-type]
    assert client.flush(timeout=10)
    assert server.recorder.events()[0]["user_id"] == "42"


def test_flush_and_shutdown_inside_on_error_do_not_deadlock(
    server: LiveServer, make_client: MakeClient
) -> None:
    seen: list[bool] = []
    client: Client

    def on_error(exc: BaseException, items: object) -> None:
        seen.append(client.flush(timeout=10))
        client.shutdown(timeout=10)

    server.recorder.fail_next(1, 400)
    client = make_client(on_error=on_error)
    client.track("e", "u")
    assert client.flush(timeout=10)
    assert seen == [False]
    client.track("still-running", "u")
    assert client.flush(timeout=10)
    assert [e["event"] for e in server.recorder.events()] == ["still-running"]


def test_an_on_error_that_raises_is_contained(server: LiveServer, make_client: MakeClient) -> None:
    def explode(exc: BaseException, items: object) -> None:
        raise RuntimeError("boom")

    server.recorder.fail_next(1, 400)
    client = make_client(on_error=explode)
    client.track("e", "u")
    assert client.flush(timeout=10)
    client.track("after", "u")
    assert client.flush(timeout=10)
    assert [e["event"] for e in server.recorder.events()] == ["after"]


def test_shutdown_flushes_and_later_calls_are_ignored(
    server: LiveServer, make_client: MakeClient
) -> None:
    client = make_client(flush_interval=10)
    client.track("before", "u")
    client.shutdown(timeout=10)
    client.shutdown()
    client.track("after", "u")
    assert client.flush(timeout=1)
    assert [e["event"] for e in server.recorder.events()] == ["before"]


def test_a_disabled_client_sends_nothing_and_starts_no_thread(server: LiveServer) -> None:
    client = Client("aat_test", server.url, disabled=True)
    client.track("e", "u")
    assert client.flush(timeout=1)
    assert client._consumer is None
    assert server.recorder.attempts == []


def test_a_client_without_a_write_key_is_disabled() -> None:
    client = Client("")
    assert client.disabled
    client.track("e", "u")
    assert client.flush(timeout=1)
