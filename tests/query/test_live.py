"""/live and the /stream SSE endpoint, with a real streaming client."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from tests.conftest import OWNER_KEY, RunningServer
from tests.factories import event


def sse(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Parse SSE frames: yields {event, id, data} dicts, and {comment} for ':' lines."""
    frame: dict[str, Any] = {}
    for line in lines:
        if line == "":
            if frame:
                yield frame
            frame = {}
        elif line.startswith(":"):
            yield {"comment": line[1:]}
        else:
            key, _, value = line.partition(": ")
            frame[key] = json.loads(value) if key == "data" else value


def track(server: RunningServer, token: str, *events: dict[str, Any]) -> None:
    r = httpx.post(server.url + "/track/batch", json={"token": token, "events": list(events)})
    assert r.status_code == 202, r.text


def test_live_snapshot_counts_the_last_minute(
    server: RunningServer, project: dict[str, Any]
) -> None:
    track(
        server,
        project["project_token"],
        event("page_view", user="a", session="1", ts="2026-01-01T00:00:00", path="/x"),
        {"event": "page_view", "user_id": "a", "session_id": "1", "properties": {"path": "/x"}},
        {"event": "page_view", "user_id": "b", "session_id": "2", "properties": {"path": "/x"}},
        {"event": "signup", "user_id": "b", "session_id": "2"},
    )
    with server.client() as c:
        body = c.get("/live", params={"project": project["name"], "window": 60}).json()
        assert body["window_seconds"] == 60
        assert body["active_visitors"] == 2 and body["active_sessions"] == 2
        assert body["top_pages"] == [{"path": "/x", "visitors": 2}]
        assert {"event": "signup", "count": 1} in body["top_events"]
        assert c.get("/live", params={"project": project["name"], "window": 5}).status_code == 400


def test_stream_delivers_filtered_events_and_resumes(
    server: RunningServer, project: dict[str, Any]
) -> None:
    token = project["project_token"]
    url = server.url + "/stream"
    params = {
        "project": project["name"],
        "key": OWNER_KEY,
        "events": "signup,buy",
        "filter": "plan:pro",
    }
    received: list[dict[str, Any]] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", url, params=params, timeout=10) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            for frame in sse(r.iter_lines()):
                if frame.get("event") == "connected":
                    assert frame["data"]["filter"] == {"plan": "pro"}
                    connected.set()
                elif frame.get("event") == "track":
                    received.append(frame)
                    if len(received) == 2:
                        return

    t = threading.Thread(target=listen)
    t.start()
    assert connected.wait(10)
    track(
        server,
        token,
        {"event": "signup", "properties": {"plan": "free"}},
        {"event": "page_view", "properties": {"plan": "pro"}},
        {"event": "signup", "properties": {"plan": "pro"}, "user_id": "u1"},
        {"event": "buy", "properties": {"plan": "pro"}},
    )
    t.join(10)
    assert [f["data"]["event"] for f in received] == ["signup", "buy"]
    assert received[0]["data"]["user_id"] == "u1"
    first_id = received[0]["id"]
    # reconnect with Last-Event-ID: the events after it are replayed
    with httpx.stream(
        "GET", url, params=params, headers={"Last-Event-ID": first_id}, timeout=10
    ) as r:
        frames = sse(r.iter_lines())
        assert next(frames)["event"] == "connected"
        replay = next(frames)
        assert replay["event"] == "track" and replay["data"]["event"] == "buy"
        assert replay["id"] == received[1]["id"]


def test_stream_heartbeats_closes_when_idle_and_limits_streams(
    make_server: Callable[..., RunningServer],
) -> None:
    srv = make_server(stream_limit=1, stream_heartbeat_s=0.2, stream_idle_timeout_s=1.0)
    p = srv.new_project()
    params = {"project": p["name"], "key": OWNER_KEY}
    with httpx.stream("GET", srv.url + "/stream", params=params, timeout=10) as r:
        frames = sse(r.iter_lines())
        assert next(frames)["event"] == "connected"
        assert next(frames) == {"comment": "heartbeat"}
        second = httpx.get(srv.url + "/stream", params=params, timeout=10)
        assert second.status_code == 429 and second.json()["error"] == "STREAM_LIMIT"
        rest = list(frames)  # the server ends the stream after 1 s with no matching event
        assert all(f == {"comment": "heartbeat"} for f in rest)
    with httpx.stream("GET", srv.url + "/stream", params=params, timeout=10) as r:
        assert r.status_code == 200, "the slot is released when a stream ends"


def test_stream_needs_a_key_of_the_projects_account(
    server: RunningServer, project: dict[str, Any]
) -> None:
    r = httpx.get(server.url + "/stream", params={"project": project["name"]})
    assert r.status_code == 401
    r = httpx.get(
        server.url + "/stream", params={"project": project["name"], "key": project["project_token"]}
    )
    assert r.status_code == 401
