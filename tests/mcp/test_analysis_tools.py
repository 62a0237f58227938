"""The query, breakdown, discovery, session, page, heatmap and overview tools on one day of
data written through the ingest path, checked by hand."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunningServer
from tests.factories import event, pageview, populate
from tests.mcp.conftest import call, call_error, connect

pytestmark = pytest.mark.anyio

DAY = "2026-11-02"  # a Monday
SPAN = {"since": DAY, "until": DAY}


@pytest.fixture
def site(server: RunningServer) -> dict[str, Any]:
    """u1 (s1): / 09:00, /pricing 09:05, signup plan=pro 09:06; u2 (s2): / 10:00, a bounce;
    u3 (s3): /docs 11:00, signup plan=free 11:10."""
    p = server.new_project()
    populate(
        server.url,
        p["project_token"],
        [
            pageview("/", user="u1", session="s1", ts=f"{DAY}T09:00:00"),
            pageview("/pricing", user="u1", session="s1", ts=f"{DAY}T09:05:00"),
            event("signup", user="u1", session="s1", ts=f"{DAY}T09:06:00", plan="pro"),
            pageview("/", user="u2", session="s2", ts=f"{DAY}T10:00:00"),
            pageview("/docs", user="u3", session="s3", ts=f"{DAY}T11:00:00"),
            event("signup", user="u3", session="s3", ts=f"{DAY}T11:10:00", plan="free"),
        ],
    )
    return p


async def test_the_flexible_query_takes_the_query_model(
    server: RunningServer, site: dict[str, Any]
) -> None:
    async with connect(server.url, server.owner_key) as c:
        body = await call(
            c,
            "query",
            project=site["name"],
            metrics=["unique_users", "event_count"],
            group_by=["path"],
            filters=[{"field": "event", "op": "eq", "value": "page_view"}],
            date_from=DAY,
            date_to=DAY,
        )
        bad = await call_error(c, "query", project=site["name"], metrics=["revenue"])
        unknown = await call_error(c, "query", project=site["name"], colour="blue")
    assert body["rows"] == [
        {"path": "/", "unique_users": 2, "event_count": 2},
        {"path": "/docs", "unique_users": 1, "event_count": 1},
        {"path": "/pricing", "unique_users": 1, "event_count": 1},
    ]
    assert (body["count"], body["truncated"]) == (3, False)
    assert "INVALID_METRIC" in bad and "unique_users" in bad, "the error lists valid metrics"
    assert "colour" in unknown


async def test_breakdown_and_property_discovery(
    server: RunningServer, site: dict[str, Any]
) -> None:
    async with connect(server.url, server.owner_key) as c:
        plans = await call(c, "breakdown", project=site["name"], property="plan", **SPAN)
        props = await call(c, "properties", project=site["name"], **SPAN)
    assert sorted((v["value"], v["count"], v["unique_users"]) for v in plans["values"]) == [
        ("free", 1, 1),
        ("pro", 1, 1),
    ]
    assert (plans["total_events"], plans["total_with_property"]) == (6, 2)
    counts = {e["event"]: (e["count"], e["unique_users"]) for e in props["events"]}
    assert counts == {"page_view": (4, 3), "signup": (2, 2)}
    assert {"plan", "path"} <= set(props["property_keys"])


async def test_sessions_distribution_and_entry_pages(
    server: RunningServer, site: dict[str, Any]
) -> None:
    async with connect(server.url, server.owner_key) as c:
        all_sessions = await call(c, "sessions", project=site["name"], **SPAN)
        bounces = await call(c, "sessions", project=site["name"], is_bounce=True, **SPAN)
        spread = await call(c, "session_distribution", project=site["name"], **SPAN)
        entries = await call(c, "pages", project=site["name"], type="both", **SPAN)
    by_id = {s["session_id"]: s for s in all_sessions["sessions"]}
    assert set(by_id) == {"s1", "s2", "s3"}
    assert (by_id["s1"]["duration"], by_id["s1"]["entry_page"], by_id["s1"]["exit_page"]) == (
        360,
        "/",
        "/pricing",
    )
    assert [s["session_id"] for s in bounces["sessions"]] == ["s2"]
    assert spread["total_sessions"] == 3
    assert [(p["page"], p["sessions"]) for p in entries["entry_pages"]] == [("/", 2), ("/docs", 1)]
    assert [p["page"] for p in entries["exit_pages"]] == ["/", "/docs", "/pricing"]


async def test_overview_and_heatmap_of_one_day(server: RunningServer, site: dict[str, Any]) -> None:
    async with connect(server.url, server.owner_key) as c:
        overview = await call(c, "analytics_overview", project=site["name"], **SPAN)
        hourly = await call(c, "analytics_overview", project=site["name"], group_by="hour", **SPAN)
        heat = await call(c, "heatmap", project=site["name"], **SPAN)
    assert overview["totals"] == {"unique_users": 3, "total_events": 6}
    assert overview["sessions"]["total_sessions"] == 3
    assert [(b["bucket"][-5:], b["total_events"]) for b in hourly["timeSeries"]] == [
        ("09:00", 3),
        ("10:00", 1),
        ("11:00", 2),
    ]
    cells = {(c["day_name"], c["hour"]): c["events"] for c in heat["heatmap"]}
    assert cells == {("Monday", 9): 3, ("Monday", 10): 1, ("Monday", 11): 2}
    assert heat["busiest_hour"] in (9, {"hour": 9, "events": 3}) or heat["peak"]["hour"] == 9
