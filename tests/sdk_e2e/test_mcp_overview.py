"""`GET /mcp-servers` on data written through the Agnost API and through the SDK."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from agentlytics.model.event import MCP_CALL, MCP_SESSION
from tests.conftest import RunningServer
from tests.sdk_e2e.conftest import Errors, MakeClient
from tests.sdk_e2e.support import Reader

LATENCIES = ("avg_latency_ms", "p50_latency_ms", "p95_latency_ms", "p99_latency_ms")


def _agnost(reader: Reader, path: str, body: dict[str, Any]) -> None:
    r = httpx.post(
        f"{reader.server.url}/api/v1/{path}", json=body, headers={"X-Org-Id": reader.write_key}
    )
    assert r.status_code == 200, r.text


def _call(session: str, name: str, latency: float, success: bool = True) -> dict[str, Any]:
    return {
        "session_id": session,
        "primitive_type": "tool",
        "primitive_name": name,
        "latency": latency,
        "success": success,
        "args": "{}",
        "result": "{}",
    }


def test_an_overview_of_calls_sent_through_the_agnost_api(reader: Reader) -> None:
    ann, anonymous = str(uuid.uuid4()), str(uuid.uuid4())
    _agnost(
        reader,
        "capture-session",
        {
            "session_id": ann,
            "client_config": "claude-desktop",
            "tools": ["get_weather", "search"],
            "user_data": {"userId": "ann", "email": "ann@example.com"},
        },
    )
    _agnost(reader, "capture-session", {"session_id": anonymous, "client_config": "cursor"})
    for call in (
        _call(ann, "get_weather", 10),
        _call(ann, "get_weather", 20, success=False),
        _call(ann, "get_weather", 30),
        _call(ann, "search", 100),
        _call(anonymous, "get_weather", 40, success=False),
    ):
        _agnost(reader, "capture-event", call)

    body = reader.mcp_servers(since="1d")
    assert body["project"] == reader.project["name"]
    assert body["interval"] == "hour", "a range of a day is shown by the hour"
    totals = body["totals"]
    assert {k: totals[k] for k in ("sessions", "users", "calls", "errors", "error_rate")} == {
        "sessions": 2,
        "users": 2,
        "calls": 5,
        "errors": 2,
        "error_rate": 0.4,
    }
    assert (totals["avg_latency_ms"], totals["p50_latency_ms"]) == (40.0, 30.0)
    assert 30.0 < totals["p95_latency_ms"] <= totals["p99_latency_ms"] <= 100.0

    assert [
        (t["tool"], t["primitive_type"], t["sessions"], t["calls"], t["errors"], t["error_rate"])
        for t in body["tools"]
    ] == [("get_weather", "tool", 2, 4, 2, 0.5), ("search", "tool", 1, 1, 0, 0.0)]
    weather = body["tools"][0]
    assert (weather["avg_latency_ms"], weather["p50_latency_ms"]) == (25.0, 25.0)

    assert [
        (c["client"], c["sessions"], c["users"], c["calls"], c["errors"]) for c in body["clients"]
    ] == [
        ("claude-desktop", 1, 1, 4, 1),
        ("cursor", 1, 1, 1, 1),
    ]
    # an Agnost session without user data counts under its session id
    assert [(u["user_id"], u["sessions"], u["calls"], u["errors"]) for u in body["users"]] == [
        ("ann", 1, 4, 1),
        (anonymous, 1, 1, 1),
    ]
    [bucket] = body["time_series"]
    assert (bucket["sessions"], bucket["calls"], bucket["errors"]) == (2, 5, 2)
    assert body["truncated"] == {
        "tools": False,
        "clients": False,
        "users": False,
        "time_series": False,
    }
    assert "project_context" in body


def test_an_overview_of_calls_sent_by_the_sdk_over_days(
    reader: Reader, make_client: MakeClient, errors: Errors
) -> None:
    """What `instrument()` sends, with timestamps spread over three days (`Client.capture`)."""
    client = make_client()
    day0 = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=3)
    plan = [  # (day, hour, session, user, tool, latency, success)
        (0, 0, "s1", "ann", "forecast", 12.5, True),
        (0, 0, "s1", "ann", "forecast", 7.5, False),
        (0, 1, "s1", "ann", "alerts", 3.0, True),
        (1, 0, "s2", "bob", "forecast", 20.0, True),
        (2, 0, "s3", None, "radar", 50.0, True),
    ]
    sessions = {s: (user, day) for day, _, s, user, *_ in reversed(plan)}
    for session, (user, day) in sessions.items():
        client.capture(
            {
                "event": MCP_SESSION,
                "user_id": user,
                "anonymous_id": session,
                "session_id": session,
                "mcp_session_id": session,
                "client": "vscode" if session == "s2" else "claude-code",
                "timestamp": _ms(day0 + timedelta(days=day)),
                "properties": {"tools": ["forecast", "alerts", "radar"]},
            }
        )
    for day, hour, session, user, tool, latency, success in plan:
        client.capture(
            {
                "event": MCP_CALL,
                "user_id": user,
                "anonymous_id": session,
                "session_id": session,
                "mcp_session_id": session,
                "primitive_type": "tool",
                "primitive_name": tool,
                "latency_ms": latency,
                "success": success,
                "error": None if success else "boom",
                "client": "vscode" if session == "s2" else "claude-code",
                "timestamp": _ms(day0 + timedelta(days=day, hours=hour, minutes=5)),
                "properties": {},
            }
        )
    assert client.flush(timeout=30)
    assert errors == []

    body = reader.mcp_servers(since="7d")
    assert body["interval"] == "day"
    totals = body["totals"]
    # the session without a user counts as one (anonymous) user, as `instrument()` sends it
    assert (totals["sessions"], totals["users"], totals["calls"], totals["errors"]) == (3, 3, 5, 1)
    days = [(day0 + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(3)]
    assert [(b["date"], b["sessions"], b["calls"], b["errors"]) for b in body["time_series"]] == [
        (days[0], 1, 3, 1),
        (days[1], 1, 1, 0),
        (days[2], 1, 1, 0),
    ]
    assert [(c["client"], c["sessions"], c["calls"]) for c in body["clients"]] == [
        ("claude-code", 2, 4),
        ("vscode", 1, 1),
    ]
    assert [(u["user_id"], u["calls"]) for u in body["users"]] == [
        ("ann", 3),
        ("bob", 1),
        ("s3", 1),
    ]

    first_day = day0.strftime("%Y-%m-%d")
    hourly = reader.mcp_servers(since=first_day, until=first_day, interval="hour")
    assert [(b["date"][-5:], b["calls"], b["errors"]) for b in hourly["time_series"]] == [
        ("10:00", 2, 1),
        ("11:00", 1, 0),
    ]

    top = reader.mcp_servers(since="7d", limit=2)
    # busiest first; ties in name order
    assert [(t["tool"], t["calls"]) for t in top["tools"]] == [("forecast", 3), ("alerts", 1)]
    assert top["truncated"]["tools"] is True

    forecast = reader.mcp_servers(since="7d", tool="forecast")
    assert forecast["filters"] == {"tool": "forecast", "client": None}
    assert [t["tool"] for t in forecast["tools"]] == ["forecast"]
    assert (forecast["totals"]["sessions"], forecast["totals"]["calls"]) == (2, 3)
    vscode = reader.mcp_servers(since="7d", client="vscode")
    assert [(u["user_id"], u["calls"]) for u in vscode["users"]] == [("bob", 1)]


def test_an_empty_project_has_zero_counts_and_null_rates(reader: Reader) -> None:
    body = reader.mcp_servers()
    assert body["totals"] == {
        "sessions": 0,
        "users": 0,
        "calls": 0,
        "errors": 0,
        "error_rate": None,
        **dict.fromkeys(LATENCIES),
    }
    assert (body["tools"], body["clients"], body["users"], body["time_series"]) == ([], [], [], [])


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"interval": "minute"}, 400, "INVALID_PARAMETER"),
        ({"limit": "0"}, 400, "INVALID_PARAMETER"),
        ({"since": "yesterday-ish"}, 400, None),
    ],
)
def test_bad_parameters_are_refused(
    reader: Reader, params: dict[str, str], status: int, code: str | None
) -> None:
    with reader.server.client() as c:
        r = c.get("/mcp-servers", params={"project": reader.project["name"], **params})
    assert r.status_code == status, r.text
    if code:
        assert r.json()["error"] == code


def test_it_needs_an_api_key_for_the_project(server: RunningServer, reader: Reader) -> None:
    with server.client(key=None) as c:
        assert c.get("/mcp-servers", params={"project": reader.project["name"]}).status_code == 401
    with server.client() as c:
        assert c.get("/mcp-servers", params={"project": "no-such-project"}).status_code == 404
        spec = c.get("/openapi.json").json()
    assert "/mcp-servers" in spec["paths"]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
