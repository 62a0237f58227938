"""Limits that protect the server: rate limits, body size."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from agentlytics.settings import load_settings
from tests.conftest import RunningServer
from tests.factories import event


def test_rate_limit_is_atomic_for_a_batch(make_server: Callable[..., RunningServer]) -> None:
    srv = make_server(ingest_rate_limit=10)
    p = srv.new_project()
    token = p["project_token"]
    ok = httpx.post(
        srv.url + "/track/batch", json={"token": token, "events": [event("e") for _ in range(8)]}
    )
    assert ok.status_code == 202
    r = httpx.post(
        srv.url + "/track/batch", json={"token": token, "events": [event("e") for _ in range(3)]}
    )
    assert r.status_code == 429
    body = r.json()
    assert body["error"] == "RATE_LIMITED" and body["reason"] == "rate_limit"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    count = srv.services.events.query(
        "SELECT count(*) FROM events WHERE project_id = ?", [p["id"]]
    ).rows[0][0]
    assert count == 8, "a refused batch stores nothing"
    fits = httpx.post(
        srv.url + "/track/batch", json={"token": token, "events": [event("e"), event("e")]}
    )
    assert fits.status_code == 202, "the refused batch was not charged"
    assert httpx.post(srv.url + "/track", json={"token": token, "event": "e"}).status_code == 429


def test_rate_limit_zero_means_off(make_server: Callable[..., RunningServer]) -> None:
    """More events in a minute than the default limit lets through are all accepted."""
    default = load_settings({}, environ={}).ingest_rate_limit
    assert default > 0
    srv = make_server(ingest_rate_limit=0)
    p = srv.new_project()
    batches = default // 100 + 2
    for _ in range(batches):
        r = httpx.post(
            srv.url + "/track/batch",
            json={"token": p["project_token"], "events": [event("e") for _ in range(100)]},
        )
        assert (r.status_code, r.json()["count"]) == (202, 100), r.text
    count = srv.services.events.query(
        "SELECT count(*) FROM events WHERE project_id = ?", [p["id"]]
    ).rows[0][0]
    assert count == batches * 100 > default


def test_huge_bodies_are_refused_with_413(make_server: Callable[..., RunningServer]) -> None:
    srv = make_server(max_body_bytes=10_000)
    token = srv.new_project()["project_token"]
    r = httpx.post(
        srv.url + "/track",
        json={"token": token, "event": "e", "properties": {"blob": "x" * 20_000}},
    )
    assert r.status_code == 413 and r.json()["error"] == "PAYLOAD_TOO_LARGE"

    def chunks():  # no Content-Length: the limit applies while streaming
        for _ in range(20):
            yield b"x" * 1000

    r = httpx.post(srv.url + "/track", content=chunks())
    assert r.status_code == 413


def test_properties_size_limit(server: RunningServer, project: dict) -> None:
    r = httpx.post(
        server.url + "/track",
        json={
            "token": project["project_token"],
            "event": "e",
            "properties": {"blob": "x" * 40_000},
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "PROPERTIES_TOO_LARGE"
