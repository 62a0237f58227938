"""Limits that protect the server: rate limits, body size."""

from __future__ import annotations

import time
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


def _clear_of_a_minute_boundary() -> None:
    """Rate windows are whole clock minutes: start a count well inside one."""
    into = time.time() % 60
    if into > 50:
        time.sleep(60.5 - into)


def test_reads_over_read_rate_limit_get_429_per_account(
    make_server: Callable[..., RunningServer],
) -> None:
    srv = make_server(read_rate_limit=3)
    p = srv.new_project()
    token = p["project_token"]
    other = srv.services.projects.create_account("other@example.com")
    _, other_key = srv.services.projects.create_api_key(other, "o", "read")
    _clear_of_a_minute_boundary()
    for _ in range(5):  # ingest is not counted
        assert (
            httpx.post(srv.url + "/track", json={"token": token, "event": "e"}).status_code == 202
        )
    with srv.client() as c:
        assert c.get("/stats", params={"project": p["id"]}).status_code == 200
        assert c.post("/query", json={"project": p["id"]}).status_code == 200
        assert c.get("/insights", params={"project": p["id"]}).status_code == 200
        assert c.get("/projects").status_code == 200, "project management is not a read"
        r = c.get("/events", params={"project": p["id"]})
        assert r.status_code == 429, r.text
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        body = r.json()
        assert body["error"] == "RATE_LIMITED" and body["reason"] == "rate_limit"
        assert "3 reads/min per account" in body["message"]
        assert f"Retry after {body['retry_after']} s" in body["message"]
        assert 1 <= body["retry_after"] <= 60 and body["remaining"] == 0
        assert c.post("/funnel", json={"project": p["id"]}).status_code == 429
        assert c.get("/account").status_code == 200
    with srv.client(None) as anonymous:
        assert anonymous.get("/stats", params={"project": p["id"]}).status_code == 401
    with srv.client("aak_not_a_key") as bad:
        assert bad.get("/stats", params={"project": p["id"]}).status_code == 401
    assert httpx.post(srv.url + "/track", json={"token": token, "event": "e"}).status_code == 202
    with srv.client(other_key) as o:  # another account has its own count
        mine = o.post("/projects", json={"name": "mine"}, headers={"X-API-Key": srv.owner_key})
        assert mine.status_code in (200, 201)
        for _ in range(3):
            assert o.get("/projects").status_code == 200
        statuses = [o.get("/stats", params={"project": "nope"}).status_code for _ in range(4)]
        assert statuses == [404, 404, 404, 429], "failed reads count too"


def test_read_rate_limit_zero_means_unlimited(server: RunningServer, project: dict) -> None:
    assert server.services.settings.read_rate_limit == 0
    with server.client() as c:
        for _ in range(20):
            assert c.get("/stats", params={"project": project["id"]}).status_code == 200


def test_openapi_marks_the_reads_429(server: RunningServer) -> None:
    spec = httpx.get(server.url + "/openapi.json").json()
    assert "429" in spec["paths"]["/stats"]["get"]["responses"]
    assert "429" in spec["paths"]["/query"]["post"]["responses"]
    assert "429" not in spec["paths"]["/projects"]["get"]["responses"]
    assert "429" not in spec["paths"]["/track"]["post"]["responses"]
