"""Distinct users read from the hourly users summary (and, for breakdowns by path, the users
per path, ``dim_hourly``) answer exactly as a scan of the events.

Events go in through the real ingest path (``POST /track/batch``, ``/identify``). Each
report is answered twice over the same store: by the server's engine (which reads
``user_hourly``) and by an engine that never reads summaries. That happens before the
summary holds anything, after the writer has built it, after late events and identities
(built by their own commit), after a start-up catch-up from scratch, and after the users'
lookup keys were recomputed because the engine's hash changed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agentlytics.model.project import Project
from agentlytics.query import breakdowns, fragments, insights, reports, users
from agentlytics.query.build import build
from agentlytics.query.engine import QueryEngine
from agentlytics.query.model import Filter, QuerySpec
from agentlytics.query.period import Period, parse_period
from agentlytics.storage.duckdb import rollup
from tests.conftest import RunningServer
from tests.query.conftest import summary_project
from tests.query.test_fragments import identify, send, traffic
from tests.query.test_rollups import PERIODS

SPECS = [
    QuerySpec(metrics=["event_count", "unique_users"]),
    QuerySpec(metrics=["unique_users", "event_count", "pageviews"], group_by=["date"]),
    QuerySpec(metrics=["unique_users"], group_by=["date"], interval="hour", limit=1000),
    QuerySpec(metrics=["unique_users", "event_count"], group_by=["event", "week"]),
    QuerySpec(metrics=["unique_users"], group_by=["month"]),
    QuerySpec(
        metrics=["unique_users"], group_by=["event"], order_by="unique_users", order="asc", limit=2
    ),
    QuerySpec(metrics=["unique_users"], filters=[Filter("event", "eq", "page_view")]),
    QuerySpec(
        metrics=["unique_users", "event_count"],
        group_by=["date"],
        filters=[Filter("event", "neq", "signup")],
    ),
    # not from the summary: raw counting, a property, another dimension, a user filter
    QuerySpec(metrics=["unique_users"], count_mode="raw"),
    QuerySpec(metrics=["unique_users"], group_by=["properties.path"]),
    QuerySpec(metrics=["unique_users"], group_by=["country"]),
    QuerySpec(metrics=["unique_users"], filters=[Filter("user_id", "eq", "ada")]),
]


def compare(server: RunningServer, project: Project) -> int:
    """Every report over every period, both ways; returns how many read the summary."""
    fast, scanned = server.services.query, QueryEngine(server.services.events, rollups=False)
    used = 0
    for period in PERIODS:
        for spec in SPECS:
            assert fast.run(project, spec, period) == scanned.run(project, spec, period), (
                spec,
                period,
            )
        for unit in reports.STATS_GROUPS:
            assert reports.stats(fast, project, period, unit) == reports.stats(
                scanned, project, period, unit
            ), (unit, period)
        utc = Period(period.start, period.end, "UTC")
        assert insights.heatmap(fast, project, utc) == insights.heatmap(scanned, project, utc)
        for event, limit in ((None, 2), (None, 20), ("page_view", 3), ("signup", 20)):
            ask = {"prop": "path", "event": event, "limit": limit}
            assert breakdowns.breakdown(fast, project, period, **ask) == breakdowns.breakdown(
                scanned, project, period, **ask
            ), (ask, period)
        scope = fast.scope(project, period)
        used += users.usable(scope) is not None
        assert "user_hourly" not in build(scanned.scope(project, period), SPECS[0])
    for length in insights.INSIGHT_PERIODS[:3]:
        assert insights.insights(fast, project, length, now=NOW) == insights.insights(
            scanned, project, length, now=NOW
        ), length
    return used


#: when /insights is asked: its periods meet at 19:50, inside an hour that
#: ``users.periods_sql`` then reads from the events
NOW = PERIODS[0].end + timedelta(minutes=7)


def insights_from_the_summary(server: RunningServer, project: Project) -> int:
    """How many of ``compare``'s /insights read both periods' users, and their sessions, in
    one statement each."""
    used = 0
    for length in insights.INSIGHT_PERIODS[:3]:
        current = parse_period(length, None, project.timezone, now=NOW)
        both = Period(current.previous().start, current.end, current.tz)
        engine = server.services.query
        cut = current.start_param
        used += users.periods_sql(engine.scope(project, both), cut) is not None
        sessions = ["session_count", "bounce_rate", "avg_duration"]
        used += fragments.sides_sql(engine.scope(project, both), sessions, cut) is not None
    return used


def test_user_counts_from_the_summary_equal_the_raw_scan_through_every_stage(
    unlimited_server: RunningServer,
) -> None:
    server = unlimited_server
    project, store, token = summary_project(server, "users")

    send(server, token, traffic(1, 700))
    identify(server, token, "u3", "ada")
    identify(server, token, "anon1", "ada")
    assert compare(server, project) > 0  # all from the events: nothing built yet

    now = datetime.now(UTC).replace(tzinfo=None)
    store.advance_rollup(now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
    [(rows, events)] = store.query("SELECT count(*), sum(events) FROM user_hourly").rows
    assert 0 < rows < 700 and events == 700
    used = compare(server, project)
    assert used == len(PERIODS) - 2  # Kolkata's half hours and a period with no whole hour
    assert insights_from_the_summary(server, project) == 6

    # received below the watermark: counted by the commit that stores them
    send(server, token, traffic(2, 300))
    identify(server, token, "u4", "ada")
    identify(server, token, "u5", "u6")
    [(events,)] = store.query("SELECT sum(events) FROM user_hourly").rows
    assert events == 1000
    assert compare(server, project) == used

    # built from scratch at start-up, and the users' lookup keys recomputed when the engine's
    # hash changes
    def rebuild(break_hash: bool) -> None:
        con = store._con
        if break_hash:
            con.execute("UPDATE user_hash SET probe = probe + 1")
        else:
            con.execute("DELETE FROM user_hourly")
            con.execute(
                "UPDATE rollup_state SET watermark = ? WHERE name = 'user_hourly'",
                [datetime(1970, 1, 1)],
            )
        rollup.catch_up_summaries(con, rollup.watermark(con))

    for break_hash in (False, True):
        store._call(lambda b=break_hash: rebuild(b))
        [(events,)] = store.query("SELECT sum(events) FROM user_hourly").rows
        assert events == 1000
        assert compare(server, project) == used


def test_the_summary_is_not_read_with_rollups_off(make_server: Any) -> None:
    server: RunningServer = make_server(rollups=False)
    project = Project(id="p", account_id="a", name="p", write_key="k", created_at=0)
    scope = server.services.query.scope(project, PERIODS[0])
    assert users.usable(scope) is None
