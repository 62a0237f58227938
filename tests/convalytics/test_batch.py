"""``POST /ingest/batch``: JSON errors, per-event results in order, atomic limits, quota."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import RunningServer
from tests.convalytics.conftest import cnv_event, now_ms, stored
from tests.factories import CHROME_UA


def batch(server: RunningServer, body: Any = None, **kwargs: Any) -> httpx.Response:
    if body is not None:
        kwargs["json"] = body
    kwargs["headers"] = {"User-Agent": CHROME_UA, **kwargs.get("headers", {})}
    return httpx.post(server.url + "/ingest/batch", **kwargs)


def test_a_batch_is_stored_and_answers_per_event_results(
    server: RunningServer, project: dict[str, Any]
) -> None:
    events = [
        cnv_event("step_started", props={"step": "validate"}),
        cnv_event("page_view", props={"path": "/docs", "title": "Docs"}),
    ]
    r = batch(server, {"writeKey": project["project_token"], "events": events})
    assert r.status_code == 200
    assert r.json() == {
        "accepted": 2,
        "rejected": 0,
        "results": [{"status": "ok"}, {"status": "ok"}],
    }
    rows = {row["name"]: row for row in stored(server, project["id"])}
    assert rows["step_started"]["properties"] == '{"step":"validate"}'
    assert (rows["page_view"]["path"], rows["page_view"]["title"]) == ("/docs", "Docs")


def test_bad_events_are_rejected_one_by_one_in_input_order(
    server: RunningServer, project: dict[str, Any]
) -> None:
    good = cnv_event("kept")
    events = [
        "not an object",
        {k: v for k, v in good.items() if k != "name"},
        {**good, "userId": ""},
        {k: v for k, v in good.items() if k != "sessionId"},
        {**good, "timestamp": "yesterday"},
        good,
        None,
    ]
    r = batch(server, {"writeKey": project["project_token"], "events": events})
    assert r.status_code == 200
    assert r.json() == {
        "accepted": 1,
        "rejected": 6,
        "results": [
            {"status": "error", "error": "event must be an object"},
            {"status": "error", "error": "missing required field: name"},
            {"status": "error", "error": "missing required field: userId"},
            {"status": "error", "error": "missing required field: sessionId"},
            {"status": "error", "error": "missing required field: timestamp (number)"},
            {"status": "ok"},
            {"status": "error", "error": "event must be an object"},
        ],
    }
    assert [row["name"] for row in stored(server, project["id"])] == ["kept"]


def test_a_batch_of_only_bad_events_answers_200_with_nothing_accepted(
    server: RunningServer, project: dict[str, Any]
) -> None:
    r = batch(server, {"writeKey": project["project_token"], "events": [1, 2]})
    assert r.status_code == 200
    assert r.json()["accepted"] == 0 and r.json()["rejected"] == 2


def test_an_event_the_pipeline_refuses_is_an_error_result(
    server: RunningServer, project: dict[str, Any]
) -> None:
    events = [cnv_event("x" * 201), cnv_event("fine")]
    body = batch(server, {"writeKey": project["project_token"], "events": events}).json()
    assert body["accepted"] == 1 and body["rejected"] == 1
    assert body["results"][0]["status"] == "error"
    assert "200" in body["results"][0]["error"]
    assert body["results"][1] == {"status": "ok"}


def test_request_errors_are_json_with_codes(server: RunningServer, project: dict[str, Any]) -> None:
    key = project["project_token"]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"content": b"{"}, 400, "invalid_json"),
        ({"content": b"null"}, 400, "invalid_body"),
        ({"content": b'"text"'}, 400, "invalid_body"),
        ({"json": {"events": []}}, 400, "missing_write_key"),
        ({"json": {"writeKey": 7, "events": []}}, 400, "missing_write_key"),
        ({"json": {"writeKey": key}}, 400, "invalid_events"),
        ({"json": {"writeKey": key, "events": {"a": 1}}}, 400, "invalid_events"),
        ({"json": {"writeKey": "aat_nope", "events": [cnv_event()]}}, 401, "invalid_write_key"),
    ]
    for kwargs, status, error in cases:
        r = batch(server, **kwargs)
        assert r.status_code == status, kwargs
        assert r.json()["error"] == error
        assert r.json()["message"]


def test_an_empty_batch_is_a_no_op(server: RunningServer, project: dict[str, Any]) -> None:
    r = batch(server, {"writeKey": project["project_token"], "events": []})
    assert (r.status_code, r.json()) == (200, {"accepted": 0, "rejected": 0, "results": []})


def test_more_than_100_events_is_batch_too_large(
    server: RunningServer, project: dict[str, Any]
) -> None:
    r = batch(server, {"writeKey": project["project_token"], "events": [cnv_event()] * 101})
    assert r.status_code == 400
    assert r.json() == {
        "error": "batch_too_large",
        "message": "Batch size 101 exceeds maximum of 100",
        "maxBatchSize": 100,
    }
    assert stored(server, project["id"]) == []


def test_the_rate_limit_is_charged_for_the_whole_batch_at_once(
    make_server: Callable[..., RunningServer],
) -> None:
    srv = make_server(ingest_rate_limit=5)
    project = srv.new_project()
    key = project["project_token"]
    assert batch(srv, {"writeKey": key, "events": [cnv_event()] * 4}).status_code == 200
    r = batch(srv, {"writeKey": key, "events": [cnv_event(), cnv_event(), cnv_event()]})
    assert r.status_code == 429
    body = r.json()
    assert set(body) == {"error", "message", "retryAfter", "resetAt", "remaining"}
    assert (body["error"], body["remaining"]) == ("rate_limit_exceeded", 1)
    assert body["message"] == (
        "Rate limit exceeded. Batch of 3 would exceed 5 events/min. Only 1 slots remaining."
    )
    assert r.headers["Retry-After"] == str(body["retryAfter"])
    assert body["resetAt"] > now_ms() - 1000
    assert len(stored(srv, project["id"])) == 4, "a refused batch stores nothing"
    assert batch(srv, {"writeKey": key, "events": [cnv_event()]}).status_code == 200


def test_over_quota_page_views_still_land_and_the_answer_is_402(
    make_server: Callable[..., RunningServer],
) -> None:
    srv = make_server(max_events_per_month=3)
    project = srv.new_project()
    key = project["project_token"]
    views = [cnv_event("page_view", props={"path": f"/{i}"}) for i in range(2)]
    events = [cnv_event(f"e{i}") for i in range(4)]
    r = batch(srv, {"writeKey": key, "events": views + events})
    assert r.status_code == 402
    body = r.json()
    assert body == {
        "error": "quota_exceeded",
        "message": body["message"],
        "plan": "self-hosted",
        "limit": 3,
        "partialIngest": True,
        "acceptedPageviews": 2,
        "rejectedProductEvents": 4,
    }
    assert [row["name"] for row in stored(srv, project["id"])] == ["page_view", "page_view"]
    # the refused events were not charged: three still fit, then the quota is spent
    assert batch(srv, {"writeKey": key, "events": events[:3]}).status_code == 200
    r = batch(srv, {"writeKey": key, "events": events[3:]})
    assert r.status_code == 402
    assert (r.json()["partialIngest"], r.json()["acceptedPageviews"]) == (False, 0)


def test_duplicate_ids_in_a_batch_are_stored_once(
    server: RunningServer, project: dict[str, Any]
) -> None:
    event = cnv_event(id="evt-7")
    body = batch(server, {"writeKey": project["project_token"], "events": [event, event]}).json()
    assert body["accepted"] == 2
    assert len(stored(server, project["id"])) == 1
