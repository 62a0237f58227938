"""Generated SQL, pinned per dialect: any change to what the engine emits shows up as a diff.

Each case renders one statement for DuckDB and for ClickHouse into
``snapshots/<case>.<dialect>.sql`` (its parameters on the first line). After an intended
change, rewrite them with ``UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest
tests/query/test_sql_snapshots.py`` and review the diff. Every pinned statement also runs on
its engine over an empty store: DuckDB always, ClickHouse (chDB) with the scale-out tests,
which also check that the session, heatmap and bot reports answer the same on both.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agentlytics.model.event import BotHit, Event, Identity
from agentlytics.model.project import Project
from agentlytics.query import bots, breakdowns, fragments, insights, properties, sessions, users
from agentlytics.query.build import Scope, build
from agentlytics.query.dialect import DIALECTS
from agentlytics.query.engine import QueryEngine
from agentlytics.query.model import Filter, QuerySpec
from agentlytics.query.period import Period, parse_period
from agentlytics.query.reports import activity_sql, event_names_sql
from agentlytics.storage import registry
from agentlytics.storage.ports import EventStore
from tests.storage import backends

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
PROJECT_ID = "p_snapshot"
PARIS_WEEK = Period(
    datetime(2026, 10, 31, 23, tzinfo=UTC), datetime(2026, 11, 7, 23, tzinfo=UTC), "Europe/Paris"
)
UTC_WEEK = Period(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC), "UTC")


@dataclass(frozen=True)
class Case:
    name: str
    render: Callable[[Scope], str]
    filters: Sequence[Filter] = ()
    period: Period = PARIS_WEEK
    #: reads of the session fragments only DuckDB keeps (pinned for DuckDB alone: on other
    #: engines the same call renders the scan that the other cases already pin)
    fragments: bool = False
    #: reads of the hourly users (and users per path) only DuckDB keeps (pinned for DuckDB
    #: alone, likewise)
    users: bool = False
    #: the project's highest user number for them: the users of 1,000 counted as bitmaps,
    #: of a billion (too many bits) by ``count(DISTINCT)``
    user_range: int = 1_000
    #: reads of the property summaries only DuckDB keeps, ``plan`` materialized (likewise)
    properties: bool = False

    @property
    def dialects(self) -> tuple[str, ...]:
        only_duckdb = self.fragments or self.users or self.properties
        return ("duckdb",) if only_duckdb else tuple(DIALECT_NAMES)


def spec(**kw: Any) -> Callable[[Scope], str]:
    return lambda scope: build(scope, QuerySpec(**kw))


STATS_SESSIONS = QuerySpec(
    metrics=["session_count", "bounce_rate", "avg_duration", "pageviews", "unique_users"]
)
#: /stats' and /insights' session metrics: sums, without listing the whole sessions
SESSION_SUMS = QuerySpec(metrics=["session_count", "bounce_rate", "avg_duration", "pageviews"])

CASES = [
    Case("query_event_count", spec()),
    Case(
        "query_users_by_hour",
        spec(metrics=["unique_users", "event_count"], group_by=["date"], interval="hour"),
    ),
    Case(
        "query_sessions_by_path",
        spec(metrics=["session_count", "bounce_rate", "avg_duration"], group_by=["path"]),
    ),
    Case(
        "query_filters",
        spec(metrics=["event_count", "unique_users"], group_by=["event", "properties.plan"]),
        filters=[
            Filter("properties.plan", "eq", "pro"),
            Filter("path", "contains", "/docs"),
            Filter("properties.amount", "gte", 10),
            Filter("country", "neq", "FR"),
        ],
    ),
    Case(
        "query_raw_users_by_week",
        spec(metrics=["unique_users"], group_by=["week"], count_mode="raw"),
    ),
    Case(
        "query_mcp_by_tool",
        spec(metrics=["call_count", "error_rate", "p95_latency_ms"], group_by=["tool"]),
    ),
    Case(
        "sessions_list",
        lambda s: sessions.sessions_sql(s, is_bounce=True, limit=50),
        filters=[Filter("user_id", "eq", "ada")],
    ),
    Case("sessions_distribution", sessions.distribution_sql),
    Case("pages_entry_and_exit", lambda s: sessions.pages_sql(s, ("entry", "exit"), 20)),
    Case("heatmap", insights.heatmap_sql, period=UTC_WEEK),
    Case(
        "fragments_sessions_newest",
        lambda s: sessions.sessions_sql(
            s, is_bounce=None, limit=100, since=datetime(2026, 11, 7, 20)
        ),
        fragments=True,
    ),
    Case(
        "fragments_sessions_of_a_user",
        lambda s: sessions.sessions_sql(s, is_bounce=False, limit=100),
        filters=[Filter("user_id", "eq", "ada")],
        fragments=True,
    ),
    Case(
        "fragments_pages",
        lambda s: sessions.pages_sql(s, ("entry", "exit"), 20),
        fragments=True,
    ),
    Case(
        "fragments_session_totals",
        lambda s: fragments.session_totals_sql(s, STATS_SESSIONS) or build(s, STATS_SESSIONS),
        fragments=True,
    ),
    Case(
        "fragments_session_sums",
        lambda s: fragments.session_totals_sql(s, SESSION_SUMS) or build(s, SESSION_SUMS),
        fragments=True,
    ),
    Case("users_stats_activity", lambda s: activity_sql(s, "day"), users=True),
    # with the period's event names known: one bitmap per (day, name) pair
    Case("users_stats_activity_pairs", lambda s: activity_sql(s, "day", 8), users=True),
    Case(
        "users_query_by_event_and_hour",
        lambda s: (
            users.query_sql(
                s, QuerySpec(metrics=["unique_users", "event_count"], group_by=["event", "hour"])
            )
            or ""
        ),
        filters=[Filter("event", "neq", "$scroll_depth")],
        users=True,
    ),
    Case("users_heatmap", insights.heatmap_sql, period=UTC_WEEK, users=True),
    Case(
        "users_heatmap_counted",
        insights.heatmap_sql,
        period=UTC_WEEK,
        users=True,
        user_range=1_000_000_000,
    ),
    Case("users_event_names", event_names_sql, users=True),
    Case("breakdowns_path", lambda s: breakdowns.dims_sql(s, "path", 20) or "", users=True),
    Case(
        "breakdowns_path_of_an_event",
        lambda s: breakdowns.dims_sql(s, "path", 5) or "",
        filters=[Filter("event", "eq", "page_view")],
        users=True,
    ),
    Case(
        "properties_breakdown",
        lambda s: properties.breakdown_sql(s, "plan", 1000) or "",
        filters=[Filter("event", "eq", "purchase")],
        properties=True,
    ),
    Case("properties_keys", lambda s: properties.keys_sql(s) or "", properties=True),
    Case("bots_actors", bots.actors_sql),
    Case("bots_series", bots.series_sql),
]
DIALECT_NAMES = sorted(DIALECTS)


def _param(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def render(case: Case, dialect: str) -> tuple[str, list[Any]]:
    scope = Scope(
        DIALECTS[dialect],
        PROJECT_ID,
        case.period,
        list(case.filters),
        session_fragments=case.fragments,
        user_hours=case.users,
        user_range=case.user_range if case.users else 0,
        dim_columns=frozenset({"path"} if case.users else ()),
        property_summaries=case.properties,
        materialized=frozenset({"plan"} if case.properties else ()),
    )
    sql = case.render(scope)
    return sql, scope.params


def pinned_text(case: Case, dialect: str) -> str:
    sql, params = render(case, dialect)
    return f"-- params: {json.dumps([_param(p) for p in params])}\n{sql}\n"


@pytest.mark.parametrize(
    ("case", "dialect"),
    [(c, d) for c in CASES for d in c.dialects],
    ids=[f"{c.name}-{d}" for c in CASES for d in c.dialects],
)
def test_generated_sql_matches_its_snapshot(case: Case, dialect: str) -> None:
    path = SNAPSHOTS / f"{case.name}.{dialect}.sql"
    text = pinned_text(case, dialect)
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1 to create it"
    assert text == path.read_text(), (
        f"the SQL for {case.name} ({dialect}) changed; if that is intended, run with "
        "UPDATE_SNAPSHOTS=1 and review the diff"
    )


def test_every_snapshot_belongs_to_a_case() -> None:
    expected = {f"{c.name}.{d}.sql" for c in CASES for d in c.dialects}
    found = {p.name for p in SNAPSHOTS.glob("*.sql")}
    if UPDATE:
        for name in found - expected:
            (SNAPSHOTS / name).unlink()
        return
    assert found - expected == set(), "stale snapshots: delete them or run with UPDATE_SNAPSHOTS=1"


def open_store(url: str) -> EventStore:
    return registry.open_event_store(backends.settings(events=url))


@pytest.fixture(scope="module")
def duckdb_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventStore]:
    store = open_store(f"duckdb:///{tmp_path_factory.mktemp('snap') / 'events.duckdb'}")
    yield store
    store.close()


@pytest.fixture(scope="module")
def clickhouse_store() -> Iterator[EventStore]:
    with backends.chdb_database() as url:
        store = open_store(url)
        yield store
        store.close()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_pinned_sql_runs_on_duckdb(case: Case, duckdb_store: EventStore) -> None:
    duckdb_store.query(*render(case, "duckdb"))


@pytest.mark.scaleout
@pytest.mark.parametrize(
    "case", [c for c in CASES if "clickhouse" in c.dialects], ids=lambda c: c.name
)
def test_pinned_sql_runs_on_clickhouse(case: Case, clickhouse_store: EventStore) -> None:
    clickhouse_store.query(*render(case, "clickhouse"))


# -- the same answers on both engines --------------------------------------------------------

DAY = "2026-11-02"


def _ms(when: str) -> int:
    return int(datetime.fromisoformat(when).replace(tzinfo=UTC).timestamp() * 1000)


def _event(name: str, user: str, sid: str | None, when: str, path: str | None = None) -> Event:
    at = _ms(f"{DAY}T{when}")
    return Event(
        project_id=PROJECT_ID,
        event_id=uuid.uuid4().hex,
        name=name,
        timestamp=at,
        received_at=at,
        user_id=user,
        session_id=sid,
        path=path,
    )


EVENTS = [
    _event("page_view", "u1", "s1", "09:00:00", "/"),
    _event("page_view", "u1", "s1", "09:05:00", "/pricing"),
    _event("signup", "u1", "s1", "09:10:30"),
    _event("page_view", "u2", "s2", "09:30:00", "/"),
    _event("page_view", "u3", None, "10:00:00", "/"),
    _event("page_view", "u3", None, "10:29:00", "/docs"),
    _event("page_view", "u3", None, "11:00:00", "/"),
    _event("page_view", "u4", "s4", "12:00:00", "/blog"),
    _event("$scroll_depth", "u4", "s4", "12:00:20"),
    _event("signup", "u5", "s5", "13:00:00"),
    _event("page_view", "anon-1", None, "23:30:00", "/late"),  # Nov 3 in Paris
]
HITS = [
    BotHit(
        project_id=PROJECT_ID,
        timestamp=_ms(f"{DAY}T10:00:00"),
        category="ai_agent",
        actor="GPTBot",
        name="page_view",
    ),
    BotHit(
        project_id=PROJECT_ID,
        timestamp=_ms(f"{DAY}T23:00:00"),
        category="search_crawler",
        actor="Googlebot",
        name="page_view",
    ),
]


def reports(store: EventStore) -> dict[str, Any]:
    async def fill() -> None:
        await store.append(EVENTS, HITS)
        identity = Identity(
            project_id=PROJECT_ID,
            previous_id="anon-1",
            user_id="u1",
            created_at=_ms(f"{DAY}T23:59:00"),
        )
        await store.add_identity(identity)

    asyncio.run(fill())
    engine = QueryEngine(store)
    project = Project(
        id=PROJECT_ID, account_id="a", name="snap", write_key="w", timezone="Europe/Paris"
    )
    period = parse_period("2026-11-01", "2026-11-03", project.timezone)
    return {
        "sessions": sessions.list_sessions(
            engine, project, period, user_id=None, is_bounce=None, limit=100
        ),
        "bounced_u1": sessions.list_sessions(
            engine, project, period, user_id="u1", is_bounce=True, limit=100
        ),
        "distribution": sessions.distribution(engine, project, period),
        "pages": sessions.pages(engine, project, period, page_type="both", limit=2),
        "heatmap": insights.heatmap(engine, project, insights.heatmap_period(DAY, DAY)),
        "bots": bots.bot_traffic(engine, project, period, limit=10),
        "insights": insights.insights(engine, project, "7d", now=datetime(2026, 11, 5, tzinfo=UTC)),
    }


@pytest.mark.scaleout
def test_session_heatmap_and_bot_reports_agree_on_duckdb_and_clickhouse(tmp_path: Path) -> None:
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
    # and the answers are the ones worked out by hand, not merely equal
    assert [s["session_id"] for s in expected["sessions"]["sessions"]][:2] == ["u1~1", "s5"]
    assert expected["bots"]["time_series"] == [
        {"date": "2026-11-01", "count": 0},
        {"date": "2026-11-02", "count": 1},
        {"date": "2026-11-03", "count": 1},
    ]
