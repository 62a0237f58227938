"""Breakdowns by path read from the users per path (``dim_hourly``) answer exactly: the values
worked out by hand, through HTTP, and the same as a scan of the events.

Events go in through the real ingest path (``POST /track/batch``, ``/identify``), before the
summary holds them, after the writer has counted them, as late events (counted by the commit
that stores them), and after the summary was rebuilt because its definition changed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agentlytics.model.project import Project
from agentlytics.query import breakdowns
from agentlytics.query.engine import QueryEngine
from agentlytics.storage.duckdb import dims, rollup
from tests.conftest import RunningServer
from tests.factories import event
from tests.query.conftest import summary_project
from tests.query.test_fragments import identify, send, traffic
from tests.query.test_rollups import PERIODS

NOW = datetime.now(UTC)
HOUR = NOW.replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)


def at(minutes: int) -> datetime:
    return HOUR + timedelta(minutes=minutes)


def visit(path: str | None, user: str | None, minutes: int, name: str = "page_view") -> Any:
    ev = event(name, user=user, ts=at(minutes), **({"path": path} if path is not None else {}))
    if user is None:
        ev["anonymous_id"] = "a1"
    return ev


EVENTS = [
    visit("/", "u1", 1),
    visit("/", "u1", 70),  # the next hour: u1 is still one user of "/"
    visit("/pricing", "u1", 2),
    visit("/", "u2", 3),
    visit("/", "u2", 9),  # the same hour: one row of the summary
    visit("/", None, 4),  # a1, identified as u1 below
    visit("/pricing", "u3", 5, name="signup"),
    visit(None, "u2", 6, name="$mcp_call"),  # no path: in the total only
    visit("", "u2", 7),  # an empty path likewise
]


def ask(server: RunningServer, project: Project, **params: Any) -> dict[str, Any]:
    with server.client() as client:
        r = client.get(
            "/breakdown",
            params={"project": project.name, "property": "path", "since": "1d", **params},
        )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return {k: body[k] for k in ("values", "total_events", "total_with_property", "truncated")}


def value(path: str, count: int, users: int) -> dict[str, Any]:
    return {"value": path, "count": count, "unique_users": users}


def check(server: RunningServer, project: Project, late: int) -> None:
    """The hand-worked answers (``late``: how many late visits of "/" by new users)."""
    root = value("/", 5 + late, 2 + late)
    assert ask(server, project) == {
        "values": [root, value("/pricing", 2, 2)],
        "total_events": 9 + late,
        "total_with_property": 7 + late,
        "truncated": False,
    }
    assert ask(server, project, limit=1) == {
        "values": [root],
        "total_events": 9 + late,
        "total_with_property": 7 + late,
        "truncated": True,
    }
    assert ask(server, project, event="page_view") == {
        "values": [root, value("/pricing", 1, 1)],
        "total_events": 7 + late,
        "total_with_property": 6 + late,
        "truncated": False,
    }
    # and from the summary, as a scan of the events answers
    fast, scanned = server.services.query, QueryEngine(server.services.events, rollups=False)
    period = fast.period(project, "1d", None)
    assert breakdowns.dims_sql(fast.scope(project, period), "path", 20) is not None
    for name in (None, "page_view", "signup"):
        for limit in (1, 20):
            kw = {"prop": "path", "event": name, "limit": limit}
            assert breakdowns.breakdown(fast, project, period, **kw) == breakdowns.breakdown(
                scanned, project, period, **kw
            )


def test_path_breakdowns_from_the_summary_are_exact_through_every_stage(
    unlimited_server: RunningServer,
) -> None:
    server = unlimited_server
    project, store, token = summary_project(server, "paths")
    send(server, token, EVENTS)
    identify(server, token, "a1", "u1")
    check(server, project, late=0)  # all from the events: nothing counted yet

    # the next hour of the clock now (not of NOW, taken at import: the suite may have crossed
    # an hour since, and the events sent above were received after that hour began)
    now = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    store.advance_rollup(now + timedelta(hours=1))
    [(stored,)] = store.query(
        "SELECT sum(events) FROM dim_hourly WHERE name IS NULL AND project_id = ?", [project.id]
    ).rows
    assert stored == 7  # the events with a path
    check(server, project, late=0)

    # received below the watermark: counted by the commit that stores them
    send(server, token, [visit("/", "u4", 8), visit("/", "u5", 65)])
    [(stored,)] = store.query(
        "SELECT sum(events) FROM dim_hourly WHERE name IS NULL AND project_id = ?", [project.id]
    ).rows
    assert stored == 9
    check(server, project, late=2)

    # a new definition: built again from every event at start-up
    def rebuild() -> None:
        store._con.execute("UPDATE summary_definitions SET hash = 'an older one'")
        assert dims.stale(store._con)
        rollup.catch_up_summaries(store._con, rollup.watermark(store._con))

    store._call(rebuild)
    assert not store.with_cursor(dims.stale)
    [(rows, stored)] = store.query(
        "SELECT count(*), sum(events) FROM dim_hourly WHERE name IS NULL AND project_id = ?",
        [project.id],
    ).rows
    assert (rows, stored) == (8, 9)
    check(server, project, late=2)


def test_random_traffic_answers_as_the_scan_over_every_period(
    unlimited_server: RunningServer,
) -> None:
    server = unlimited_server
    project, store, token = summary_project(server, "traffic")
    send(server, token, traffic(3, 600))
    identify(server, token, "u3", "ada")
    identify(server, token, "anon2", "ada")
    now = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    store.advance_rollup(now + timedelta(hours=1))
    send(server, token, traffic(4, 200))  # late
    fast, scanned = server.services.query, QueryEngine(server.services.events, rollups=False)
    used = 0
    for period in PERIODS:
        used += breakdowns.dims_sql(fast.scope(project, period), "path", 5) is not None
        for name in (None, "page_view", "signup"):
            for limit in (1, 3, 50):
                kw = {"prop": "path", "event": name, "limit": limit}
                assert breakdowns.breakdown(fast, project, period, **kw) == breakdowns.breakdown(
                    scanned, project, period, **kw
                ), (kw, period)
    assert used == len(PERIODS) - 1  # all but the period with no whole hour
