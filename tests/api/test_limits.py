"""Limits that protect the server: rate limits, body size."""

from __future__ import annotations

from collections.abc import Callable

import httpx

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
    srv = make_server(ingest_rate_limit=0)
    token = srv.new_project()["project_token"]
    for _ in range(3):
        r = httpx.post(
            srv.url + "/track/batch",
            json={"token": token, "events": [event("e") for _ in range(100)]},
        )
        assert r.status_code == 202


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
