"""The MCP-server overview (`/mcp-servers`, the `mcp_server_usage` tool) answers the same on
DuckDB and ClickHouse (chDB), over events written straight to each store, and the DuckDB
answer is the one worked out by hand, with and without a tool or client filter."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agentlytics.errors import ValidationError
from agentlytics.model.event import MCP_CALL, MCP_SESSION, Event
from agentlytics.model.project import Project
from agentlytics.query.engine import QueryEngine
from agentlytics.query.mcp_usage import mcp_overview
from agentlytics.query.period import Period
from agentlytics.storage import registry
from agentlytics.storage.ports import EventStore
from tests.factories import ms
from tests.storage import backends

PROJECT = Project(id="p_mcp_overview", account_id="a", name="mcp-overview", write_key="w")
PERIOD = Period(datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC), "UTC")


def _event(name: str, session: str, user: str, at: str, **mcp: Any) -> Event:
    ts = ms(f"2026-11-{at}")
    return Event(
        project_id=PROJECT.id,
        event_id=f"{name}-{session}-{at}-{mcp.get('primitive_name')}",
        name=name,
        timestamp=ts,
        received_at=ts,
        user_id=user,
        anonymous_id=session,
        session_id=session,
        mcp_session_id=session,
        source="mcp",
        client="cursor" if session == "s3" else "claude",
        **mcp,
    )


def _call(session: str, user: str, at: str, tool: str, latency: float, ok: bool = True) -> Event:
    return _event(
        MCP_CALL,
        session,
        user,
        at,
        primitive_type="resource" if tool.startswith("res://") else "tool",
        primitive_name=tool,
        latency_ms=latency,
        success=ok,
    )


EVENTS = [
    _event(MCP_SESSION, "s1", "ann", "02T09:00:00"),
    _call("s1", "ann", "02T09:01:00", "search", 10.0),
    _call("s1", "ann", "02T09:02:00", "search", 30.0, ok=False),
    _call("s1", "ann", "02T09:03:00", "res://docs", 5.0),
    _event(MCP_SESSION, "s2", "ann", "03T10:00:00"),
    _call("s2", "ann", "03T10:01:00", "search", 50.0),
    _event(MCP_SESSION, "s3", "bob", "03T11:00:00"),
    _call("s3", "bob", "03T11:01:00", "fetch", 200.0, ok=False),
]


def answers(store: EventStore) -> dict[str, dict[str, Any]]:
    """The overview unfiltered, of one tool and of one client."""
    asyncio.run(store.append(EVENTS))
    engine = QueryEngine(store)
    return {
        name: mcp_overview(engine, PROJECT, PERIOD, interval="day", limit=20, **filters)
        for name, filters in (
            ("all", {}),
            ("search", {"tool": "search"}),
            ("cursor", {"client": "cursor"}),
        )
    }


def open_store(url: str) -> EventStore:
    return registry.open_event_store(backends.settings(events=url))


def test_worked_out_by_hand_on_duckdb(tmp_path: Path) -> None:
    store = open_store(f"duckdb:///{tmp_path / 'events.duckdb'}")
    try:
        every = answers(store)
    finally:
        store.close()
    got = every["all"]
    assert got["filters"] == {"tool": None, "client": None}
    totals = got["totals"]
    assert {k: totals[k] for k in ("sessions", "users", "calls", "errors", "error_rate")} == {
        "sessions": 3,
        "users": 2,
        "calls": 5,
        "errors": 2,
        "error_rate": 0.4,
    }
    assert (totals["avg_latency_ms"], totals["p50_latency_ms"]) == (59.0, 30.0)
    assert [
        (t["tool"], t["primitive_type"], t["sessions"], t["calls"], t["errors"])
        for t in got["tools"]
    ] == [
        ("search", "tool", 2, 3, 1),
        ("fetch", "tool", 1, 1, 1),
        ("res://docs", "resource", 1, 1, 0),
    ]
    assert [(c["client"], c["sessions"], c["users"], c["calls"]) for c in got["clients"]] == [
        ("claude", 2, 1, 4),
        ("cursor", 1, 1, 1),
    ]
    assert [(u["user_id"], u["sessions"], u["calls"], u["errors"]) for u in got["users"]] == [
        ("ann", 2, 4, 1),
        ("bob", 1, 1, 1),
    ]
    assert [(b["date"], b["sessions"], b["calls"], b["errors"]) for b in got["time_series"]] == [
        ("2026-11-02", 1, 3, 1),
        ("2026-11-03", 2, 2, 1),
    ]


def test_a_tool_or_client_filter_narrows_every_list(tmp_path: Path) -> None:
    store = open_store(f"duckdb:///{tmp_path / 'events.duckdb'}")
    try:
        every = answers(store)
    finally:
        store.close()
    search, cursor = every["search"], every["cursor"]
    assert search["filters"] == {"tool": "search", "client": None}
    t = search["totals"]
    assert (t["sessions"], t["users"], t["calls"], t["errors"], t["avg_latency_ms"]) == (
        2,
        1,
        3,
        1,
        30.0,
    )
    assert [r["tool"] for r in search["tools"]] == ["search"]
    assert [(c["client"], c["calls"]) for c in search["clients"]] == [("claude", 3)]
    assert [(b["date"], b["calls"]) for b in search["time_series"]] == [
        ("2026-11-02", 2),
        ("2026-11-03", 1),
    ]
    t = cursor["totals"]
    assert (t["sessions"], t["users"], t["calls"], t["errors"]) == (1, 1, 1, 1)
    assert [(u["user_id"], u["calls"]) for u in cursor["users"]] == [("bob", 1)]


@pytest.mark.scaleout
def test_duckdb_and_clickhouse_agree(tmp_path: Path) -> None:
    duck = open_store(f"duckdb:///{tmp_path / 'events.duckdb'}")
    try:
        expected = answers(duck)
    finally:
        duck.close()
    with backends.chdb_database() as url:
        house = open_store(url)
        try:
            got = answers(house)
        finally:
            house.close()
    for name, answer in expected.items():
        for key, value in answer.items():
            assert got[name][key] == value, (name, key)


@pytest.mark.parametrize("limit", [0, 1001])
def test_a_limit_out_of_range_is_invalid_limit(tmp_path: Path, limit: int) -> None:
    store = open_store(f"duckdb:///{tmp_path / 'events.duckdb'}")
    try:
        with pytest.raises(ValidationError) as refused:
            mcp_overview(QueryEngine(store), PROJECT, PERIOD, interval="day", limit=limit)
    finally:
        store.close()
    assert refused.value.code == "INVALID_LIMIT"
