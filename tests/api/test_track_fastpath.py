"""The ingest routes' fast path (``IngestFastPath``): POSTs to /track, /track/batch, /ingest and
/ingest/batch skip the router, and must answer exactly as the full stack does: the same
bodies, status codes and CORS headers, errors included; other methods still go down the stack.
Also what the pipeline works out once per request (visitor id, user agent, country, bots)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from tests.conftest import RunningServer
from tests.factories import CHROME_UA, event, pageview

ORIGIN = "https://shop.example"
GPTBOT_UA = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)"
)


def stored(server: RunningServer, project_id: str) -> list[dict[str, Any]]:
    return server.services.events.query(
        "SELECT * FROM events WHERE project_id = ? ORDER BY event_id", [project_id]
    ).dicts()


def cors(r: httpx.Response) -> tuple[str | None, str | None, str | None]:
    h = r.headers
    return (
        h.get("access-control-allow-origin"),
        h.get("vary"),
        h.get("access-control-allow-credentials"),
    )


def test_errors_keep_their_bodies_and_get_the_cors_headers(
    server: RunningServer, project: dict[str, Any]
) -> None:
    headers = {"Origin": ORIGIN, "Content-Type": "application/json"}
    cases: list[tuple[str, bytes, int, str]] = [
        ("/track", b"{", 400, "INVALID_JSON"),
        ("/track", b"[]", 400, "INVALID_JSON"),
        ("/track", b'{"event": "x"}', 400, "MISSING_FIELDS"),
        ("/track", b'{"token": "aat_nope", "event": "x"}', 401, "INVALID_TOKEN"),
        ("/track/batch", b'{"events": 3}', 400, "MISSING_FIELDS"),
        (
            "/track/batch",
            b'{"token": "aat_nope", "events": [{"event": "x"}]}',
            401,
            "INVALID_TOKEN",
        ),
    ]
    for path, body, status, code in cases:
        r = httpx.post(server.url + path, content=body, headers=headers)
        assert r.status_code == status, (path, body, r.text)
        assert r.headers["content-type"] == "application/json"
        assert r.json()["error"] == code and r.json()["message"]
        assert cors(r) == (ORIGIN, "Origin", "true")
    # no Origin: the wildcard, no credentials
    r = httpx.post(server.url + "/track", content=b"{")
    assert cors(r) == ("*", "Origin", None)
    assert stored(server, project["id"]) == []


def test_a_refused_origin_is_403_with_the_request_origin_reflected(
    server: RunningServer,
) -> None:
    project = server.new_project(allowed_origins=ORIGIN)
    body = {"token": project["project_token"], "events": [pageview("/")]}
    r = httpx.post(
        server.url + "/track/batch", json=body, headers={"Origin": "https://evil.example"}
    )
    assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN"
    assert cors(r) == ("https://evil.example", "Origin", "true")
    ok = httpx.post(server.url + "/track/batch", json=body, headers={"Origin": ORIGIN})
    assert ok.status_code == 202 and ok.json()["count"] == 1
    assert cors(ok) == (ORIGIN, "Origin", "true")


def test_other_methods_and_preflights_go_down_the_stack(server: RunningServer) -> None:
    for path in ("/track", "/track/batch", "/ingest", "/ingest/batch"):
        r = httpx.get(server.url + path)
        assert r.status_code == 405, path
        pre = httpx.options(
            server.url + path,
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
        )
        assert pre.status_code == 204, path
        assert pre.headers["access-control-allow-origin"] == ORIGIN
        assert "POST" in pre.headers["access-control-allow-methods"]


def test_the_body_limit_holds_on_the_fast_path(
    make_server: Callable[..., RunningServer],
) -> None:
    srv = make_server(max_body_bytes=2_000)
    token = srv.new_project()["project_token"]
    big = {"token": token, "events": [event("e", blob="x" * 100) for _ in range(30)]}
    r = httpx.post(srv.url + "/track/batch", json=big)
    assert r.status_code == 413
    assert r.json() == {
        "error": "PAYLOAD_TOO_LARGE",
        "message": "request body is larger than 2000 bytes; send fewer events per request",
    }

    def chunks() -> Iterator[
        bytes
    ]:  # no Content-Length: the limit applies while the body streams in
        for _ in range(5):
            yield b"x" * 1000

    r = httpx.post(srv.url + "/ingest/batch", content=chunks())
    assert r.status_code == 413 and r.json()["error"] == "PAYLOAD_TOO_LARGE"
    small = httpx.post(srv.url + "/track", json={"token": token, "event": "fits"})
    assert small.status_code == 202


def test_a_browser_batch_shares_one_visitor_id_client_and_country(
    server: RunningServer, project: dict[str, Any]
) -> None:
    events = [
        {"event": "page_view", "id": f"e{i}", "properties": {"url": f"https://shop.example/{i}"}}
        for i in range(3)
    ]
    events.append({"event": "signup", "id": "e3", "user_id": "u-7"})
    events.append({"event": "", "id": "e4"})  # rejected; the others land
    r = httpx.post(
        server.url + "/track/batch",
        json={"token": project["project_token"], "events": events},
        headers={"Origin": ORIGIN, "User-Agent": CHROME_UA, "CF-IPCountry": "DE"},
    )
    assert r.status_code == 202, r.text
    assert r.json()["count"] == 4
    assert [(x["index"], x["error"]) for x in r.json()["rejected"]] == [(4, "MISSING_FIELDS")]
    rows = stored(server, project["id"])
    assert [row["event_id"] for row in rows] == ["e0", "e1", "e2", "e3"]
    visitors = {row["anonymous_id"] for row in rows[:3]}
    assert len(visitors) == 1 and visitors.pop().startswith("v_")
    assert rows[3]["anonymous_id"] is None and rows[3]["user_id"] == "u-7"
    assert {(row["browser"], row["country"], row["source"]) for row in rows} == {
        ("Chrome", "DE", "browser")
    }
    assert [row["path"] for row in rows[:3]] == ["/0", "/1", "/2"]


def test_a_bot_batch_is_counted_event_by_event_and_stores_nothing(
    server: RunningServer, project: dict[str, Any]
) -> None:
    r = httpx.post(
        server.url + "/track/batch",
        json={"token": project["project_token"], "events": [pageview("/a"), pageview("/b")]},
        headers={"Origin": ORIGIN, "User-Agent": GPTBOT_UA},
    )
    assert r.status_code == 202 and r.json()["count"] == 2
    assert stored(server, project["id"]) == []
    hits = server.services.events.query(
        "SELECT count(*), any_value(actor) FROM bot_hits WHERE project_id = ?", [project["id"]]
    ).rows
    assert hits == [(2, "GPTBot")]


def test_duplicates_within_and_across_batches_are_stored_once(
    server: RunningServer, project: dict[str, Any]
) -> None:
    token = project["project_token"]
    same = str(uuid.uuid4())
    batch = {"token": token, "events": [event("a", id=same), event("a", id=same), event("b")]}
    r = httpx.post(server.url + "/track/batch", json=batch)
    assert r.status_code == 202 and r.json()["count"] == 3  # a duplicate is not an error
    r = httpx.post(server.url + "/track", json={"token": token, "event": "a", "id": same})
    assert r.status_code == 202
    rows = stored(server, project["id"])
    assert sorted(row["name"] for row in rows) == ["a", "b"]
