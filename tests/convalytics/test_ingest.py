"""``POST /ingest``: Convalytics' single-event contract, plain-text errors included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import RunningServer, start_server
from tests.convalytics.conftest import cnv_event, now_ms, stored
from tests.factories import CHROME_UA

MISSING = "Missing required fields: writeKey, name, userId, sessionId, timestamp"


def post(server: RunningServer, body: Any = None, **kwargs: Any) -> httpx.Response:
    """POST /ingest as a browser would (a server-side caller gets the same answers)."""
    if body is not None:
        kwargs["json"] = body
    kwargs["headers"] = {"User-Agent": CHROME_UA, **kwargs.get("headers", {})}
    return httpx.post(server.url + "/ingest", **kwargs)


def test_ingest_stores_an_event_and_answers_200_with_an_empty_body(
    server: RunningServer, project: dict[str, Any]
) -> None:
    ts = now_ms() - 1000
    r = post(
        server,
        {
            "writeKey": project["project_token"],
            "name": "user_signed_up",
            "userId": "u-42",
            "sessionId": "s-1",
            "timestamp": ts,
            "props": {"plan": "pro", "seats": 3, "trial": False},
        },
    )
    assert r.status_code == 200
    assert r.content == b""
    [row] = stored(server, project["id"])
    assert (row["name"], row["user_id"], row["session_id"]) == ("user_signed_up", "u-42", "s-1")
    assert row["properties"] == '{"plan":"pro","seats":3,"trial":false}'
    assert row["source"] == "server"
    assert row["environment"] == "production"
    assert int(row["timestamp"].timestamp() * 1000) // 1000 * 1000 <= ts


def test_token_is_accepted_as_the_write_key(server: RunningServer, project: dict[str, Any]) -> None:
    r = post(server, cnv_event(token=project["project_token"]))
    assert r.status_code == 200
    assert len(stored(server, project["id"])) == 1


def test_props_are_cleaned_silently(server: RunningServer, project: dict[str, Any]) -> None:
    props = {
        "ok": "yes",
        "n": 1.5,
        "flag": True,
        "$lib": "x",
        "_private": "x",
        "": "x",
        "has space": "x",
        "naïve": "x",
        "nested": {"a": 1},
        "list": [1],
        "nothing": None,
    }
    r = post(server, cnv_event(writeKey=project["project_token"], props=props))
    assert r.status_code == 200
    [row] = stored(server, project["id"])
    assert row["properties"] == '{"ok":"yes","n":1.5,"flag":true}'


def test_missing_or_mistyped_required_fields_answer_plain_text_400(
    server: RunningServer, project: dict[str, Any]
) -> None:
    key = project["project_token"]
    good = cnv_event(writeKey=key)
    cases = [
        {k: v for k, v in good.items() if k != "writeKey"},
        {k: v for k, v in good.items() if k != "name"},
        {**good, "userId": 42},
        {k: v for k, v in good.items() if k != "sessionId"},
        {**good, "timestamp": "2026-01-01T00:00:00Z"},
        {**good, "timestamp": True},
        {},
        [],
    ]
    for body in cases:
        r = post(server, body)
        assert r.status_code == 400, body
        assert r.text == MISSING
        assert r.headers["content-type"].startswith("text/plain")
    assert stored(server, project["id"]) == []


def test_bad_json_and_non_object_bodies_answer_plain_text(server: RunningServer) -> None:
    for content, text in [(b"{", "Invalid JSON"), (b"", "Invalid JSON"), (b"null", "Invalid body")]:
        r = post(server, content=content, headers={"Content-Type": "text/plain"})
        assert (r.status_code, r.text) == (400, text)
        assert r.headers["content-type"].startswith("text/plain")


def test_an_unknown_write_key_answers_plain_text_401(server: RunningServer) -> None:
    r = post(server, cnv_event(writeKey="aat_nope"))
    assert (r.status_code, r.text) == (401, "Invalid write key")
    assert r.headers["content-type"].startswith("text/plain")


def test_an_event_the_pipeline_refuses_answers_plain_text_400(
    server: RunningServer, project: dict[str, Any]
) -> None:
    r = post(server, cnv_event("x" * 201, writeKey=project["project_token"]))
    assert r.status_code == 400
    assert "longer than 200" in r.text
    assert stored(server, project["id"]) == []


def test_a_page_view_takes_path_referrer_title_and_utm_from_props(
    server: RunningServer, project: dict[str, Any]
) -> None:
    props = {
        "path": "/pricing" + "x" * 600,
        "referrer": "https://www.google.com/search?q=x",
        "title": "T" * 300,
        "utm_source": "news",
        "utm_medium": "email",
        "utm_campaign": "spring",
    }
    r = post(
        server,
        cnv_event(
            "page_view",
            writeKey=project["project_token"],
            props=props,
            pageOrigin="https://shop.example",
        ),
        headers={"User-Agent": CHROME_UA, "CF-IPCountry": "DE"},
    )
    assert r.status_code == 200
    [row] = stored(server, project["id"])
    assert row["path"].startswith("/pricing") and len(row["path"]) == 500
    assert row["referrer"] == "https://www.google.com/search?q=x"
    assert row["referrer_host"] == "google.com"
    assert row["title"] == "T" * 200
    assert (row["utm_source"], row["utm_medium"], row["utm_campaign"]) == (
        "news",
        "email",
        "spring",
    )
    assert (row["source"], row["browser"], row["country"]) == ("browser", "Chrome", "DE")


def test_user_email_and_name_are_cut_to_200_and_ignored_unless_strings(
    server: RunningServer, project: dict[str, Any]
) -> None:
    key = project["project_token"]
    post(server, cnv_event(writeKey=key, userEmail="e" * 250 + "@x.io", userName="N" * 300))
    post(server, cnv_event("second", writeKey=key, userEmail=12, userName={"a": 1}))
    first, second = stored(server, project["id"], "1=1")[:2]
    rows = {r["name"]: r for r in (first, second)}
    assert len(rows["signup"]["user_email"]) == 200
    assert rows["signup"]["user_name"] == "N" * 200
    assert rows["second"]["user_email"] is None and rows["second"]["user_name"] is None


def test_environment_follows_deployment_name_then_page_origin_then_origin(
    server: RunningServer, project: dict[str, Any]
) -> None:
    key = project["project_token"]
    cases = [
        ("a", {"deploymentName": "happy-otter-123"}, {}, "development", "server"),
        ("b", {"deploymentName": "shop-prod"}, {}, "production", "server"),
        ("c", {"pageOrigin": "http://localhost:3000"}, {}, "development", "browser"),
        ("d", {"pageOrigin": "https://shop.example"}, {}, "production", "browser"),
        ("e", {}, {"Origin": "http://127.0.0.1:5173"}, "development", "server"),
        (
            "f",
            {"deploymentName": "dev-1", "pageOrigin": "https://x.example"},
            {},
            "development",
            "browser",
        ),
    ]
    for name, fields, headers, _, _ in cases:
        assert (
            post(server, cnv_event(name, writeKey=key, **fields), headers=headers).status_code
            == 200
        )
    rows = {r["name"]: r for r in stored(server, project["id"])}
    for name, _, _, environment, source in cases:
        assert (rows[name]["environment"], rows[name]["source"]) == (environment, source), name


def test_the_first_production_origin_becomes_the_site_url(
    server: RunningServer, project: dict[str, Any]
) -> None:
    key = project["project_token"]
    post(server, cnv_event(writeKey=key, pageOrigin="http://localhost:3000"))
    post(server, cnv_event(writeKey=key, deploymentName="x-prod", pageOrigin="https://no.example"))
    assert server.services.meta.get_project(project["id"]).site_url is None  # type: ignore[union-attr]
    post(server, cnv_event(writeKey=key, pageOrigin="https://shop.example"))
    post(server, cnv_event(writeKey=key, pageOrigin="https://other.example"))
    assert server.services.meta.get_project(project["id"]).site_url == "https://shop.example"  # type: ignore[union-attr]


def test_an_id_makes_retries_idempotent(server: RunningServer, project: dict[str, Any]) -> None:
    body = cnv_event(writeKey=project["project_token"], id="evt-1")
    assert post(server, body).status_code == 200
    assert post(server, body).status_code == 200
    assert len(stored(server, project["id"])) == 1


def test_cors_preflight_and_reflected_origin(
    server: RunningServer, project: dict[str, Any]
) -> None:
    r = httpx.options(
        server.url + "/ingest",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert r.status_code == 204
    methods = {m.strip() for m in r.headers["access-control-allow-methods"].split(",")}
    assert {"POST", "OPTIONS"} <= methods
    assert "content-type" in r.headers["access-control-allow-headers"].lower()
    assert r.headers["access-control-allow-origin"] == "https://shop.example"
    r = post(
        server,
        cnv_event(writeKey=project["project_token"]),
        headers={"Origin": "https://shop.example"},
    )
    assert r.headers["access-control-allow-origin"] == "https://shop.example"
    assert r.headers["access-control-allow-credentials"] == "true"


def test_rate_limit_answers_429_with_retry_after(make_server: Callable[..., RunningServer]) -> None:
    srv = make_server(ingest_rate_limit=2)
    key = srv.new_project()["project_token"]
    for _ in range(2):
        assert post(srv, cnv_event(writeKey=key)).status_code == 200
    r = post(srv, cnv_event(writeKey=key))
    assert r.status_code == 429
    body = r.json()
    assert set(body) == {"error", "message", "retryAfter", "resetAt"}
    assert body["error"] == "rate_limit_exceeded"
    assert body["message"] == "Ingest rate limit exceeded (2 events/min). Retry after reset."
    assert 1 <= body["retryAfter"] <= 60
    assert r.headers["Retry-After"] == str(body["retryAfter"])
    assert body["resetAt"] > now_ms() - 1000


def test_over_quota_server_events_get_402_and_browser_events_are_dropped(
    make_server: Callable[..., RunningServer],
) -> None:
    srv = make_server(max_events_per_month=3)
    project = srv.new_project()
    key = project["project_token"]
    for i in range(3):
        assert post(srv, cnv_event(f"e{i}", writeKey=key)).status_code == 200
    r = post(srv, cnv_event("e3", writeKey=key))
    assert r.status_code == 402
    body = r.json()
    assert set(body) == {"error", "message", "plan", "limit"}
    assert (body["error"], body["limit"], body["plan"]) == ("quota_exceeded", 3, "self-hosted")
    # page views are free
    assert post(srv, cnv_event("page_view", writeKey=key, props={"path": "/"})).status_code == 200
    # a browser event over quota: 200, not stored
    browser = post(srv, cnv_event("clicked", writeKey=key, pageOrigin="https://shop.example"))
    assert (browser.status_code, browser.content) == (200, b"")
    # pageOrigin with a deploymentName is a server event
    both = cnv_event("both", writeKey=key, pageOrigin="https://x.example", deploymentName="x-prod")
    assert post(srv, both).status_code == 402
    names = [r["name"] for r in stored(srv, project["id"])]
    assert sorted(names) == ["e0", "e1", "e2", "page_view"]


def test_refused_and_duplicate_events_do_not_use_quota(
    make_server: Callable[..., RunningServer],
) -> None:
    srv = make_server(max_events_per_month=2)
    project = srv.new_project()
    key = project["project_token"]
    assert post(srv, cnv_event("x" * 201, writeKey=key)).status_code == 400
    assert post(srv, cnv_event("first", writeKey=key, id="same")).status_code == 200
    assert post(srv, cnv_event("first", writeKey=key, id="same")).status_code == 200
    assert post(srv, cnv_event("second", writeKey=key)).status_code == 200
    assert post(srv, cnv_event("third", writeKey=key)).status_code == 402
    assert sorted(r["name"] for r in stored(srv, project["id"])) == ["first", "second"]


def test_the_quota_count_survives_a_restart(tmp_path: Path) -> None:
    first, stop = start_server(tmp_path, max_events_per_month=2)
    try:
        key = first.new_project("quota")["project_token"]
        assert post(first, cnv_event(writeKey=key)).status_code == 200
        assert post(first, cnv_event(writeKey=key)).status_code == 200
    finally:
        stop()
    second, stop = start_server(tmp_path, max_events_per_month=2)
    try:
        assert post(second, cnv_event(writeKey=key)).status_code == 402
    finally:
        stop()
