"""The Agnost API byte for byte, including the doubled prefix, and its calls queried back."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer

SESSION = {
    "client_config": "claude-desktop",
    "connection_type": "",
    "ip": "",
    "tools": ["get_weather", "search_web"],
    "user_data": {"userId": "user123", "email": "user@example.com", "role": "admin"},
}


def call(name: str, session_id: str, latency: float, success: bool = True) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "primitive_type": "tool",
        "primitive_name": name,
        "latency": latency,
        "success": success,
        "args": '{"location":"San Francisco"}',
        "result": '{"temperature":18}',
    }


@pytest.mark.parametrize("prefix", ["/api/v1", "/api/v1/api/v1"])
def test_session_then_events_as_documented(
    server: RunningServer, project: dict[str, Any], prefix: str
) -> None:
    org = {"X-Org-Id": project["project_token"]}
    sid = str(uuid.uuid4())
    r = httpx.post(
        server.url + prefix + "/capture-session", json={"session_id": sid, **SESSION}, headers=org
    )
    assert r.status_code == 200
    assert r.json() == {"session_id": sid}
    r = httpx.post(
        server.url + prefix + "/capture-event", json=call("get_weather", sid, 342), headers=org
    )
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["event_id"].startswith("evt_")
    # org_id in the body instead of the header (the SDKs send both)
    r = httpx.post(
        server.url + prefix + "/capture-event",
        json={**call("search_web", sid, 12, success=False), "org_id": project["project_token"]},
    )
    assert r.status_code == 200


def test_agnost_errors(server: RunningServer, project: dict[str, Any]) -> None:
    org = {"X-Org-Id": project["project_token"]}
    url = server.url + "/api/v1"
    sid = str(uuid.uuid4())
    assert (
        httpx.post(url + "/capture-session", json={"session_id": sid, **SESSION}).status_code == 401
    )
    assert (
        httpx.post(
            url + "/capture-session", json={"session_id": sid}, headers={"X-Org-Id": "nope"}
        ).status_code
        == 401
    )
    assert httpx.post(url + "/capture-session", content=b"{oops", headers=org).status_code == 400
    r = httpx.post(url + "/capture-session", json={"session_id": "not-a-uuid"}, headers=org)
    assert r.status_code == 400 and "UUID" in r.json()["message"]
    r = httpx.post(url + "/capture-event", json=call("t", str(uuid.uuid4()), 1), headers=org)
    assert r.status_code == 404, "an unknown session"
    httpx.post(url + "/capture-session", json={"session_id": sid, **SESSION}, headers=org)
    for broken in (
        {"primitive_type": "widget"},
        {"latency": "fast"},
        {"success": "yes"},
        {"primitive_name": None},
    ):
        r = httpx.post(url + "/capture-event", json={**call("t", sid, 1), **broken}, headers=org)
        assert r.status_code == 400, broken
    assert (
        httpx.post(url + "/capture-event", json=call("t", "bad", 1), headers=org).status_code == 400
    )


def test_mcp_calls_are_queryable_per_tool(server: RunningServer, project: dict[str, Any]) -> None:
    org = {"X-Org-Id": project["project_token"]}
    sid = str(uuid.uuid4())
    httpx.post(
        server.url + "/api/v1/capture-session", json={"session_id": sid, **SESSION}, headers=org
    )
    # the same session again (SDK retry) is stored once
    httpx.post(
        server.url + "/api/v1/capture-session", json={"session_id": sid, **SESSION}, headers=org
    )
    for latency, ok in [(100, True), (200, True), (300, False), (400, True)]:
        httpx.post(
            server.url + "/api/v1/capture-event",
            json=call("get_weather", sid, latency, ok),
            headers=org,
        )
    httpx.post(server.url + "/api/v1/capture-event", json=call("search_web", sid, 50), headers=org)
    with server.client() as c:
        r = c.post(
            "/query",
            json={
                "project": project["id"],
                "since": "1d",
                "metrics": ["call_count", "error_rate", "avg_latency_ms", "p50_latency_ms"],
                "group_by": ["tool", "client"],
                "filters": [{"field": "event", "op": "eq", "value": "$mcp_call"}],
            },
        )
        assert r.status_code == 200, r.text
        rows = {row["tool"]: row for row in r.json()["rows"]}
        assert rows["get_weather"] == {
            "tool": "get_weather",
            "client": "claude-desktop",
            "call_count": 4,
            "error_rate": 0.25,
            "avg_latency_ms": 250.0,
            "p50_latency_ms": 250.0,
        }
        assert rows["search_web"]["call_count"] == 1
        users = c.post(
            "/query",
            json={
                "project": project["id"],
                "metrics": ["unique_users", "event_count"],
                "filters": [{"field": "event", "op": "eq", "value": "$mcp_session"}],
            },
        )
        assert users.json()["rows"] == [{"unique_users": 1, "event_count": 1}]
        events = c.get(
            "/events", params={"project": project["id"], "event": "$mcp_call", "limit": 1}
        ).json()
        assert events["events"][0]["user_id"] == "user123"
