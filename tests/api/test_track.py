"""The native ingest routes: /track, /track/batch, /identify."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import msgspec

from tests.conftest import RunningServer
from tests.factories import CHROME_UA, event, pageview


def stored(server: RunningServer, project_id: str, where: str = "1=1") -> list[dict[str, Any]]:
    return server.services.events.query(
        f"SELECT * FROM events WHERE project_id = ? AND {where} ORDER BY timestamp", [project_id]
    ).dicts()


def test_track_accepts_an_event_and_answers_202_queued(
    server: RunningServer, project: dict[str, Any]
) -> None:
    r = httpx.post(
        server.url + "/track",
        json={
            "token": project["project_token"],
            "event": "signup",
            "properties": {"plan": "pro"},
            "user_id": "u1",
            "session_id": "s1",
            "timestamp": 1_790_000_000_000,
        },
    )
    assert r.status_code == 202
    assert r.json() == {"ok": True, "queued": True}
    [row] = stored(server, project["id"])
    assert row["name"] == "signup"
    assert row["user_id"] == "u1"
    assert row["properties"] == '{"plan":"pro"}'
    assert row["source"] == "server"


def test_track_accepts_a_text_plain_beacon_body(
    server: RunningServer, project: dict[str, Any]
) -> None:
    body = msgspec.json.encode(
        {
            "token": project["project_token"],
            "event": "page_view",
            "properties": {
                "url": "https://shop.example/a?utm_source=news&x=1",
                "referrer": "https://www.google.com/search",
            },
        }
    )
    r = httpx.post(
        server.url + "/track",
        content=body,
        headers={
            "Content-Type": "text/plain;charset=UTF-8",
            "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
            "CF-IPCountry": "FR",
        },
    )
    assert r.status_code == 202, r.text
    [row] = stored(server, project["id"])
    assert row["source"] == "browser"
    assert (row["host"], row["path"], row["utm_source"]) == ("shop.example", "/a", "news")
    assert row["referrer_host"] == "google.com"
    assert row["browser"] == "Chrome"
    assert row["country"] == "FR"
    assert row["anonymous_id"].startswith("v_")  # cookieless visitor hash, no IP stored


def test_track_validates_with_codes_that_say_what_to_fix(
    server: RunningServer, project: dict[str, Any]
) -> None:
    token = project["project_token"]
    cases = [
        ({"event": "x"}, 400, "MISSING_FIELDS"),
        ({"token": token}, 400, "MISSING_FIELDS"),
        ({"token": "aat_nope", "event": "x"}, 401, "INVALID_TOKEN"),
        ({"token": token, "event": "x", "properties": [1, 2]}, 400, "INVALID_PROPERTIES"),
        ({"token": token, "event": "x", "timestamp": "yesterday"}, 400, "INVALID_TIMESTAMP"),
        ({"token": token, "event": "x", "timestamp": 12}, 400, "INVALID_TIMESTAMP"),
        ({"token": token, "event": "x" * 201}, 400, "INVALID_FIELD"),
        ({"token": token, "event": "x", "id": "i" * 129}, 400, "INVALID_FIELD"),
        ({"token": token, "event": "x", "user_id": {"a": 1}}, 400, "INVALID_FIELD"),
        (
            {"token": token, "event": "x", "properties": {f"k{i}": i for i in range(101)}},
            400,
            "PROPERTIES_TOO_LARGE",
        ),
    ]
    for body, status, code in cases:
        r = httpx.post(server.url + "/track", json=body)
        assert r.status_code == status, (body, r.text)
        assert r.json()["error"] == code, (body, r.text)
        assert r.json()["message"]
    assert stored(server, project["id"]) == []


def test_bad_json_and_wrong_shapes_get_clear_400s(server: RunningServer) -> None:
    for content in [b"", b"{", b"[]", b"null", b"\xff\xfe", b'"text"']:
        r = httpx.post(
            server.url + "/track", content=content, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 400, content
        assert r.json()["error"] == "INVALID_JSON"


def test_unicode_names_and_properties_round_trip(
    server: RunningServer, project: dict[str, Any]
) -> None:
    r = httpx.post(
        server.url + "/track",
        json={
            "token": project["project_token"],
            "event": "café_ordered ☕",
            "properties": {"emoji": "🙂", "ключ": "значение"},
        },
    )
    assert r.status_code == 202
    [row] = stored(server, project["id"])
    assert row["name"] == "café_ordered ☕"
    assert msgspec.json.decode(row["properties"]) == {"emoji": "🙂", "ключ": "значение"}


def test_a_retried_event_id_is_stored_once(server: RunningServer, project: dict[str, Any]) -> None:
    body = {"token": project["project_token"], "event": "paid", "id": str(uuid.uuid4())}
    for _ in range(3):
        assert httpx.post(server.url + "/track", json=body).status_code == 202
    batch = {
        "token": project["project_token"],
        "events": [event("paid", id=body["id"]), event("paid", id="other")],
    }
    assert httpx.post(server.url + "/track/batch", json=batch).status_code == 202
    rows = stored(server, project["id"])
    assert sorted(r["event_id"] for r in rows) == sorted([body["id"], "other"])


def test_batch_rejects_bad_events_one_by_one_and_keeps_the_good(
    server: RunningServer, project: dict[str, Any]
) -> None:
    events = [
        pageview("/a"),
        {"properties": {}},
        "nope",
        event("ok", timestamp_ignored=1),
        {"event": "x", "timestamp": "bad"},
    ]
    r = httpx.post(
        server.url + "/track/batch", json={"token": project["project_token"], "events": events}
    )
    assert r.status_code == 202
    body = r.json()
    assert body["count"] == 2
    assert [x["index"] for x in body["rejected"]] == [1, 2, 4]
    assert body["rejected"][0]["error"] == "MISSING_FIELDS"
    assert body["rejected"][2]["error"] == "INVALID_TIMESTAMP"
    assert {r["name"] for r in stored(server, project["id"])} == {"page_view", "ok"}


def test_batch_mixes_mcp_calls_and_page_views(
    server: RunningServer, project: dict[str, Any]
) -> None:
    """An event is an MCP call when it carries any MCP field, even a null one; the others in
    the same batch stay server events."""
    call = {
        "event": "$mcp_call",
        "id": "call-1",
        "user_id": "agent-1",
        "primitive_type": "tool",
        "primitive_name": "search_docs",
        "latency_ms": 42,
        "success": False,
        "error": "timeout",
    }
    events = [
        {"event": "page_view", "id": "pv-1", "anonymous_id": "v1", "properties": {"path": "/a"}},
        call,
        {"event": "$mcp_call", "id": "call-2", "user_id": "agent-2", "client": None},
        {**call, "id": "call-3", "primitive_type": "widget"},
    ]
    r = httpx.post(
        server.url + "/track/batch", json={"token": project["project_token"], "events": events}
    )
    assert r.status_code == 202
    assert r.json()["count"] == 3
    assert [(x["index"], x["error"]) for x in r.json()["rejected"]] == [(3, "INVALID_FIELD")]
    rows = {row["event_id"]: row for row in stored(server, project["id"])}
    assert sorted(rows) == ["call-1", "call-2", "pv-1"]
    assert (rows["pv-1"]["source"], rows["pv-1"]["path"], rows["pv-1"]["primitive_type"]) == (
        "server",
        "/a",
        None,
    )
    one = rows["call-1"]
    assert (one["source"], one["primitive_type"], one["primitive_name"]) == (
        "mcp",
        "tool",
        "search_docs",
    )
    assert (one["latency_ms"], one["success"], one["error"]) == (42.0, False, "timeout")
    assert (rows["call-2"]["source"], rows["call-2"]["primitive_type"]) == ("mcp", None)


def test_batch_limits_size_and_token(server: RunningServer, project: dict[str, Any]) -> None:
    token = project["project_token"]
    too_many = {"token": token, "events": [event("e") for _ in range(101)]}
    r = httpx.post(server.url + "/track/batch", json=too_many)
    assert r.status_code == 400
    assert r.json() == {
        "error": "BATCH_TOO_LARGE",
        "message": "max 100 events per batch; split larger buffers into multiple requests",
    }
    other = server.new_project()
    mixed = {
        "events": [{**event("a"), "token": token}, {**event("b"), "token": other["project_token"]}]
    }
    r = httpx.post(server.url + "/track/batch", json=mixed)
    assert r.status_code == 400
    assert "same token" in r.json()["message"]
    r = httpx.post(server.url + "/track/batch", json={"token": token, "events": []})
    assert r.status_code == 202 and r.json()["count"] == 0
    assert stored(server, project["id"]) == []


def test_identify_links_an_anonymous_id(server: RunningServer, project: dict[str, Any]) -> None:
    token = project["project_token"]
    r = httpx.post(
        server.url + "/identify",
        json={"token": token, "previous_id": "anon-1", "user_id": "user-9"},
    )
    assert r.status_code == 202
    rows = server.services.events.query(
        "SELECT previous_id, user_id FROM identities WHERE project_id = ?", [project["id"]]
    ).rows
    assert rows == [("anon-1", "user-9")]
    r = httpx.post(server.url + "/identify", json={"token": token, "previous_id": "anon-1"})
    assert r.status_code == 400 and r.json()["error"] == "MISSING_FIELDS"
    r = httpx.post(
        server.url + "/identify", json={"token": token, "previous_id": "a" * 257, "user_id": "u"}
    )
    assert r.status_code == 400


def test_bots_are_kept_out_of_events_but_counted(
    server: RunningServer, project: dict[str, Any]
) -> None:
    r = httpx.post(
        server.url + "/track",
        json={"token": project["project_token"], "event": "page_view", "properties": {"path": "/"}},
        headers={
            "User-Agent": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
            "Origin": "https://shop.example",
        },
    )
    assert r.status_code == 202
    assert stored(server, project["id"]) == []
    hits = server.services.events.query(
        "SELECT category, actor FROM bot_hits WHERE project_id = ?", [project["id"]]
    ).rows
    assert hits == [("ai_agent", "GPTBot")]


def test_allowed_origins_are_enforced_on_ingest(server: RunningServer) -> None:
    project = server.new_project(allowed_origins="https://shop.example,*.partner.io")
    body = {"token": project["project_token"], "event": "page_view"}
    ok = httpx.post(
        server.url + "/track",
        json=body,
        headers={"Origin": "https://shop.example", "User-Agent": CHROME_UA},
    )
    assert ok.status_code == 202
    assert ok.headers["access-control-allow-origin"] == "https://shop.example"
    sub = httpx.post(
        server.url + "/track",
        json=body,
        headers={"Origin": "https://app.partner.io", "User-Agent": CHROME_UA},
    )
    assert sub.status_code == 202
    bad = httpx.post(server.url + "/track", json=body, headers={"Origin": "https://evil.example"})
    assert bad.status_code == 403 and bad.json()["error"] == "FORBIDDEN"
    pre = httpx.options(
        server.url + "/track",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert pre.status_code == 204
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert len(stored(server, project["id"])) == 2
