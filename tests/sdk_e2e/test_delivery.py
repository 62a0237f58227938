"""Delivery through failure, to the real server, via a real ASGI proxy that fails on purpose.

Nothing is lost and nothing is counted twice: the SDK retries with the same idempotency ids
and the server stores an id once per project.
"""

from __future__ import annotations

from collections import Counter, deque

from agentlytics_sdk import APIError, Client, EventsRejected

from tests.sdk_e2e.conftest import Errors, MakeClient
from tests.sdk_e2e.flaky_proxy import FlakyProxy
from tests.sdk_e2e.support import Reader, serve

N = 250  # three batches of at most 100


def _track_all(make_client: MakeClient, url: str) -> None:
    client = make_client(url)
    for i in range(N):
        client.track("retried", f"user-{i % 7}", {"i": i})
    client.track("before_identify", "anon-retried")
    client.identify("anon-retried", "user-0")
    assert client.flush(timeout=60)


def _assert_each_event_stored_once(reader: Reader, proxy: FlakyProxy) -> None:
    stored = reader.events()
    ids = Counter(e["id"] for e in stored)
    assert set(ids) == set(proxy.forwarded_ids()) and set(ids.values()) == {1}
    retried = [e["properties"]["i"] for e in stored if e["event"] == "retried"]
    assert sorted(retried) == list(range(N))
    assert reader.count({"field": "event", "op": "eq", "value": "retried"}) == N


def test_429_and_503_are_retried_until_everything_is_delivered(
    reader: Reader, make_client: MakeClient, errors: Errors
) -> None:
    proxy = FlakyProxy(reader.server.url, deque(["429", "503", "503"]))
    with serve(proxy.app()) as url:
        _track_all(make_client, url)
    assert errors == []

    steps = [s.step for s in proxy.seen]
    assert steps[:3] == ["429", "503", "503"]
    # the refused batch was sent again with the same events, and only then accepted
    first = proxy.seen[0]
    assert [s.ids for s in proxy.seen[:4]] == [first.ids] * 4
    assert proxy.seen[3].upstream == 202
    assert all(s.upstream == 202 for s in proxy.seen[3:])
    assert len(proxy.forwarded_ids()) == N + 1, "nothing was forwarded twice here"
    _assert_each_event_stored_once(reader, proxy)
    # identify went through the same proxy, and the server applied it
    assert [s.path for s in proxy.seen].count("/identify") == 1
    [before] = reader.events(event="before_identify")
    assert before["resolved_user_id"] == "user-0"


def test_a_batch_stored_but_not_acknowledged_is_retried_and_stored_once(
    reader: Reader, make_client: MakeClient, errors: Errors
) -> None:
    # Every batch reaches the server, and the answer of the first two is lost.
    proxy = FlakyProxy(reader.server.url, deque(["forward+503", "forward+503"]))
    with serve(proxy.app()) as url:
        _track_all(make_client, url)
    assert errors == []

    forwarded = Counter(proxy.forwarded_ids())
    assert sum(forwarded.values()) > N + 1, "some batches reached the server twice"
    assert max(forwarded.values()) == 3, "the first batch was stored, then sent twice more"
    assert all(s.upstream == 202 for s in proxy.seen if s.upstream is not None)
    _assert_each_event_stored_once(reader, proxy)


def test_a_wrong_write_key_is_given_up_at_once_and_reported(reader: Reader, errors: Errors) -> None:
    proxy = FlakyProxy(reader.server.url)
    with serve(proxy.app()) as url:
        client = Client(
            "aat_not_a_key", url, flush_interval=0.05, on_error=lambda e, i: errors.append((e, i))
        )
        for i in range(3):
            client.track("lost", "user-1", {"i": i})
        assert client.flush(timeout=30)
        client.shutdown()

    [(error, events)] = errors
    assert isinstance(error, APIError) and error.status == 401
    assert "INVALID_TOKEN" in error.body
    assert [e["properties"]["i"] for e in events] == [0, 1, 2]
    assert [s.upstream for s in proxy.seen] == [401], "a 401 is not retried"


def test_a_refused_event_is_reported_and_the_rest_of_its_batch_stored(
    reader: Reader, make_client: MakeClient, errors: Errors
) -> None:
    client = make_client()
    client.track("kept", "user-1")
    client.track("x" * 201, "user-1")  # longer than the server's 200 characters
    client.track("kept", "user-2")
    assert client.flush(timeout=30)

    [(error, events)] = errors
    assert isinstance(error, EventsRejected)
    assert [(r["index"], r["error"]) for r in error.rejected] == [(1, "INVALID_FIELD")]
    assert [e["event"] for e in events] == ["x" * 201]
    assert [e["user_id"] for e in reader.events(event="kept")] == ["user-1", "user-2"]
