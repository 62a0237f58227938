"""Tools over recent data: insights, live, paths, bot traffic, MCP-server usage, the all-sites
overviews, projects and experiments."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.factories import event, pageview, populate
from tests.mcp.conftest import call, call_error, connect

pytestmark = pytest.mark.anyio

GPTBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; +https://openai.com/gptbot)"


@pytest.fixture
def recent(server: RunningServer) -> dict[str, Any]:
    """Two hours ago, u1 views / and /pricing and signs up (session s1); u2 views / (s2).
    Then GPTBot loads a page from a browser (dropped as a bot)."""
    p = server.new_project()
    start = datetime.now(UTC) - timedelta(hours=2)
    populate(
        server.url,
        p["project_token"],
        [
            pageview("/", user="u1", session="s1", ts=start),
            pageview("/pricing", user="u1", session="s1", ts=start + timedelta(minutes=1)),
            event("signup", user="u1", session="s1", ts=start + timedelta(minutes=2)),
            pageview("/", user="u2", session="s2", ts=start + timedelta(minutes=3)),
        ],
    )
    r = httpx.post(
        server.url + "/track",
        json={"token": p["project_token"], "event": "page_view", "properties": {"path": "/"}},
        headers={"Origin": "https://shop.example", "User-Agent": GPTBOT},
    )
    assert r.status_code == 202, r.text
    return p


async def test_insights_paths_and_live(server: RunningServer, recent: dict[str, Any]) -> None:
    name = recent["name"]
    async with connect(server.url, server.owner_key) as c:
        insights = await call(c, "insights", project=name)
        paths = await call(c, "analytics_paths", project=name, goal_event="signup", since="7d")
        live = await call(c, "live", project=name, window=300)
        bad = await call_error(c, "analytics_paths", project=name, goal_event="x", since="3d")
    events = insights["metrics"]["total_events"]
    assert (events["current"], events["previous"]) == (4, 0)
    assert insights["trend"] == "growing"
    [entry] = paths["entries"]
    assert (entry["entry_page"], entry["sessions"], entry["conversions"]) == ("/", 2, 1)
    outcomes = {(tuple(p["steps"]), p["outcome"]) for p in entry["paths"]}
    assert (("/", "/pricing"), "goal") in outcomes and (("/",), "drop_off") in outcomes
    assert live["project"] == name and live["window_seconds"] == 300
    assert "since" in bad


async def test_bot_traffic_of_one_site_and_all_sites(
    server: RunningServer, recent: dict[str, Any]
) -> None:
    async with connect(server.url, server.owner_key) as c:
        one = await call(c, "bot_traffic_overview", project=recent["name"])
        every = await call(c, "all_sites_bot_traffic")
    assert one["automated_requests"] == 1
    assert one["categories"]["ai_agent"] == 1
    assert one["actors"][0]["category"] == "ai_agent"
    row = next(s for s in every["projects"] if s["id"] == recent["id"])
    assert row["automated_requests"] == 1
    assert every["totals"]["automated_requests"] == sum(
        s["automated_requests"] for s in every["projects"]
    )


async def test_mcp_server_usage_from_agnost_calls(
    server: RunningServer, project: dict[str, Any]
) -> None:
    """An Agnost-instrumented server in claude-desktop: get_weather twice (100 and 300 ms),
    search_web once (50 ms, failed)."""
    org = {"X-Org-Id": project["project_token"]}
    sid = str(uuid.uuid4())
    api = server.url + "/api/v1"
    session = {"session_id": sid, "client_config": "claude-desktop", "tools": []}
    assert httpx.post(api + "/capture-session", json=session, headers=org).status_code == 200
    calls = [("get_weather", 100, True), ("get_weather", 300, True), ("search_web", 50, False)]
    for tool, latency, ok in calls:
        body = {
            "session_id": sid,
            "primitive_type": "tool",
            "primitive_name": tool,
            "latency": latency,
            "success": ok,
            "args": "{}",
            "result": "{}",
        }
        assert httpx.post(api + "/capture-event", json=body, headers=org).status_code == 200
    async with connect(server.url, server.owner_key) as c:
        usage = await call(c, "mcp_server_usage", project=project["name"], since="1d")
        weather = await call(
            c, "mcp_server_usage", project=project["name"], since="1d", tool="get_weather"
        )
    t = usage["totals"]
    assert (t["sessions"], t["calls"], t["errors"], t["error_rate"]) == (1, 3, 1, 0.3333)
    assert t["p50_latency_ms"] == 100
    by_tool = {r["tool"]: (r["calls"], r["errors"]) for r in usage["tools"]}
    assert by_tool == {"get_weather": (2, 0), "search_web": (1, 1)}
    assert {r["primitive_type"] for r in usage["tools"]} == {"tool"}
    assert [(r["client"], r["calls"]) for r in usage["clients"]] == [("claude-desktop", 3)]
    assert usage["interval"] == "hour", "a range of a day is shown by the hour"
    assert sum(r["calls"] for r in usage["time_series"]) == 3
    assert weather["filters"] == {"tool": "get_weather", "client": None}
    assert weather["totals"]["calls"] == 2 and weather["totals"]["p99_latency_ms"] > 290


async def test_create_project_is_idempotent_and_shows_in_the_overview(make_server: Any) -> None:
    srv = make_server()
    async with connect(srv.url, srv.owner_key) as c:
        made = await call(c, "create_project", name="agent-made", timezone="Europe/Paris")
        again = await call(c, "create_project", name="agent-made")
        bad = await call_error(c, "create_project", name="no spaces allowed")
        populate(srv.url, made["project_token"], [pageview("/", ts=datetime.now(UTC))])
        overview = await call(c, "all_sites_overview")
    assert made["existing"] is False and made["project_token"].startswith("aat_")
    assert made["timezone"] == "Europe/Paris"
    assert again["existing"] is True and again["id"] == made["id"]
    assert "INVALID_NAME" in bad
    [row] = overview["projects"]
    assert (row["project"], row["total_events"], row["pageviews"], row["unique_users"]) == (
        "agent-made",
        1,
        1,
        1,
    )
    assert overview["totals"]["total_events"] == 1


async def test_an_experiment_from_creation_to_results_and_deletion(
    server: RunningServer, project: dict[str, Any]
) -> None:
    name = project["name"]
    async with connect(server.url, server.owner_key) as c:
        exp = await call(
            c,
            "create_experiment",
            project=name,
            name="hero",
            variants=["control", "b"],
            goal_event="signup",
        )
        now = datetime.now(UTC)
        exposures = [
            event("$experiment_exposure", user=u, ts=now, experiment="hero", variant=v)
            for u, v in [("u1", "control"), ("u2", "b")]
        ]
        populate(
            server.url,
            project["project_token"],
            [*exposures, event("signup", user="u1", ts=now + timedelta(seconds=1))],
        )
        listed = await call(c, "experiments_list", project=name)
        report = await call(c, "experiment_results", project=name, experiment=exp["id"])
        paused = await call(
            c, "update_experiment", project=name, experiment=exp["id"], status="paused"
        )
        wrong = await call_error(
            c, "update_experiment", project=name, experiment=exp["id"], status="active", winner="b"
        )
        gone = await call(c, "delete_experiment", project=name, experiment=exp["id"])
        missing = await call_error(c, "experiment_results", project=name, experiment=exp["id"])
    assert [e["id"] for e in listed["experiments"]] == [exp["id"]]
    variants = {v["key"]: v for v in report["results"]["variants"]}
    assert (variants["control"]["exposures"], variants["control"]["conversions"]) == (1, 1)
    assert (variants["b"]["exposures"], variants["b"]["conversions"]) == (1, 0)
    assert paused["status"] == "paused"
    assert "INVALID_EXPERIMENT_STATUS" in wrong
    assert gone == {"ok": True, "project": name, "deleted": exp["id"]}
    assert "EXPERIMENT_NOT_FOUND" in missing and "experiments_list" in missing
