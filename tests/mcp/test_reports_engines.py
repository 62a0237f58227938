"""The reports behind the MCP tools (``query.digest``, ``query.overview``,
``query.mcp_usage``) answer the same on
DuckDB and ClickHouse (chDB), and the answers are the ones worked out by hand."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agentlytics.model.event import MCP_CALL, Event, Identity
from agentlytics.model.project import Project
from agentlytics.query import digest, mcp_usage, overview
from agentlytics.query.engine import QueryEngine
from agentlytics.query.period import Period
from agentlytics.storage import registry
from agentlytics.storage.ports import EventStore
from tests.factories import ms
from tests.storage import backends

DAY = "2026-11-02"
PROJECT = Project(id="p_digest", account_id="a", name="digest", write_key="w")
PERIOD = Period(datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC), "UTC")


def _event(name: str, user: str | None, at: str, **columns: Any) -> Event:
    ts = ms(f"{DAY}T{at}")
    return Event(
        project_id=PROJECT.id,
        event_id=f"{name}-{user}-{at}",
        name=name,
        timestamp=ts,
        received_at=ts,
        user_id=user,
        **columns,
    )


def _mcp_call(at: str, **columns: Any) -> Event:
    return _event(MCP_CALL, "u2", at, source="mcp", primitive_name="t1", **columns)


EVENTS = [
    _event("page_view", None, "08:50:00", anonymous_id="anon-9", path="/landing"),
    _event(
        "page_view", "u1", "09:00:00", path="/", referrer="https://x.com/", referrer_host="x.com"
    ),
    _event("page_view", "u1", "09:05:00", path="/pricing", referrer="https://shop.example/"),
    _event("signup", "u1", "09:06:00", user_email="Ann@Example.com", properties='{"plan":"pro"}'),
    _event("page_view", "u2", "10:00:00", path="/"),
    _mcp_call("10:01:00", latency_ms=100.0, success=True),
    _mcp_call("10:02:00", latency_ms=300.0, success=False),
]


def reports(store: EventStore) -> dict[str, Any]:
    async def fill() -> None:
        await store.append(EVENTS)
        at = ms(f"{DAY}T12:00:00")
        identity = Identity(
            project_id=PROJECT.id, previous_id="anon-9", user_id="u1", created_at=at
        )
        await store.add_identity(identity)

    asyncio.run(fill())
    engine = QueryEngine(store)
    now = datetime(2026, 11, 3, tzinfo=UTC)
    ann = "ann@example.com"
    return {
        "pages": digest.top_pages(engine, PROJECT, PERIOD, limit=10),
        "referrers": digest.top_referrers(engine, PROJECT, PERIOD, limit=10),
        "views": digest.pageviews_count(engine, PROJECT, PERIOD, user=ann),
        "events": digest.events_count(engine, PROJECT, PERIOD),
        "recent": digest.recent_events(engine, PROJECT, PERIOD, limit=5, redact=False),
        "ann": digest.user_activity(engine, PROJECT, PERIOD, user=ann),
        "digest": digest.weekly_digest(engine, PROJECT, days=1, now=now),
        "usage": overview.usage(engine, [PROJECT], monthly_limit=0, tier="t", now=now),
        "mcp": mcp_usage.mcp_overview(engine, PROJECT, PERIOD, interval="day", limit=50),
    }


def open_store(url: str) -> EventStore:
    return registry.open_event_store(backends.settings(events=url))


def check_by_hand(got: dict[str, Any]) -> None:
    assert [(p["path"], p["views"], p["visitors"]) for p in got["pages"]["pages"]] == [
        ("/", 2, 2),
        ("/landing", 1, 1),
        ("/pricing", 1, 1),
    ]
    assert [(r["referrer"], r["views"]) for r in got["referrers"]["referrers"]] == [
        ("(direct)", 2),
        ("x.com", 1),
    ]
    assert (got["views"]["pageviews"], got["views"]["visitors"]) == (3, 1)
    assert got["events"]["count"] == 3  # signup and two MCP calls
    assert got["recent"]["events"][-1]["props"] == {"plan": "pro"}
    assert got["ann"]["identity"]["userIds"] == ["u1"]
    assert got["ann"]["counts"] == {"pageviews": 3, "events": 1, "sessions": 1}
    assert (got["digest"]["visitors"], got["digest"]["pageviews"]) == (2, 4)
    assert got["usage"]["projects"][0]["pageviews"] == 4
    mcp = got["mcp"]["totals"]
    assert (mcp["calls"], mcp["error_rate"], mcp["p50_latency_ms"]) == (2, 0.5, 200)


def test_reports_on_duckdb(tmp_path: Path) -> None:
    store = open_store(f"duckdb:///{tmp_path / 'events.duckdb'}")
    try:
        check_by_hand(reports(store))
    finally:
        store.close()


@pytest.mark.scaleout
def test_reports_agree_on_duckdb_and_clickhouse(tmp_path: Path) -> None:
    duck = open_store(f"duckdb:///{tmp_path / 'events.duckdb'}")
    try:
        expected = reports(duck)
    finally:
        duck.close()
    with backends.chdb_database() as url:
        house = open_store(url)
        try:
            got = reports(house)
        finally:
            house.close()
    for name, answer in expected.items():
        assert got[name] == answer, name
