"""Session reports read from the session fragments answer exactly as a scan of the events.

Events go in through the real ingest path (``POST /track/batch``, ``/identify``). Each
report is answered twice over the same store: by the server's engine (which reads
``session_hourly``) and by an engine that never reads rollups or fragments. That happens
before the fragments hold anything, after the writer has built them for everything
received, and after late events (received below the watermark, built by their own commit).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx

from agentlytics.model.project import Project
from agentlytics.query import insights, reports, sessions
from agentlytics.query.engine import QueryEngine
from agentlytics.query.fragments import fragments
from agentlytics.query.period import Period
from tests.conftest import RunningServer, start_server
from tests.factories import event
from tests.query.conftest import drop_migrations_11_12, summary_project
from tests.query.test_rollups import END, PERIODS, START

PATHS = ["/", "/pricing", "/docs", "/docs/install", "", None]
NAMES = ["page_view", "page_view", "page_view", "$scroll_depth", "signup", "$impression"]

Report = Callable[[QueryEngine, Project, Period], Any]


def traffic(seed: int, n: int) -> list[dict[str, Any]]:
    """Sessions by id (some spanning hours, some sharing an id across users), and events
    without one (the inactivity rule); every timestamp distinct, so first and last pages
    are never ties."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        number = rng.randrange(400)
        # a session's events lie within ~40 minutes of its own start; some stray far off
        minute = number * 18 + rng.randrange(40 if rng.random() < 0.95 else 2000)
        at = START - timedelta(hours=3) + timedelta(minutes=minute, milliseconds=seed * 10_000 + i)
        user = f"u{rng.randrange(30)}" if rng.random() < 0.9 else None
        session = f"s{number}" if rng.random() < 0.8 else None
        props: dict[str, Any] = {}
        path = rng.choice(PATHS)
        if path is not None:
            props["path"] = path
        ev = event(rng.choice(NAMES), user=user, session=session, ts=at, **props)
        if user is None:
            ev["anonymous_id"] = f"anon{rng.randrange(5)}"
        out.append(ev)
    return out


def send(server: RunningServer, token: str, events: list[dict[str, Any]]) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for start in range(0, len(events), 100):
            chunk = events[start : start + 100]
            r = client.post("/track/batch", json={"token": token, "events": chunk})
            assert r.status_code == 202 and r.json()["count"] == len(chunk), r.text


def identify(server: RunningServer, token: str, previous: str, user: str) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        body = {"token": token, "previous_id": previous, "user_id": user}
        assert client.post("/identify", json=body).status_code == 202


REPORTS: dict[str, Report] = {
    "sessions": lambda e, p, period: sessions.list_sessions(
        e, p, period, user_id=None, is_bounce=None, limit=1000
    ),
    "sessions of a user": lambda e, p, period: sessions.list_sessions(
        e, p, period, user_id="ada", is_bounce=None, limit=1000
    ),
    "bounced sessions": lambda e, p, period: sessions.list_sessions(
        e, p, period, user_id=None, is_bounce=True, limit=5
    ),
    # the newest few: read from the last hours only, when fragments can answer
    "newest sessions": lambda e, p, period: sessions.list_sessions(
        e, p, period, user_id=None, is_bounce=None, limit=4
    ),
    "newest of a user": lambda e, p, period: sessions.list_sessions(
        e, p, period, user_id="ada", is_bounce=False, limit=2
    ),
    "distribution": sessions.distribution,
    "pages": lambda e, p, period: sessions.pages(e, p, period, page_type="both", limit=1000),
    "stats": lambda e, p, period: reports.stats(e, p, period, "day"),
    "heatmap": lambda e, p, period: insights.heatmap(e, p, Period(period.start, period.end, "UTC")),
}


#: ``session_totals`` recounted from the whole fragments, beside the table's own rows
TOTALS_DRIFT = """
SELECT coalesce(a.project_id, b.project_id), coalesce(a.hour, b.hour), a.k, b.k
FROM (
    SELECT project_id, hour, count(*) AS k, count(*) FILTER (WHERE active = 0) AS bounces,
        sum((epoch_us(t1) // 1000) - (epoch_us(t0) // 1000)) AS ms, sum(events) AS n,
        sum(pageviews) AS pv
    FROM session_hourly WHERE whole GROUP BY ALL
) AS a
FULL JOIN (
    SELECT project_id, hour, sum(sessions) AS k, sum(bounces) AS bounces, sum(ms) AS ms,
        sum(events) AS n, sum(pageviews) AS pv
    FROM session_totals GROUP BY ALL HAVING sum(sessions) <> 0
) AS b ON a.project_id = b.project_id AND a.hour = b.hour
WHERE (a.k, a.bounces, a.ms, a.n, a.pv) IS DISTINCT FROM (b.k, b.bounces, b.ms, b.n, b.pv)
"""


def compare(server: RunningServer, project: Project) -> int:
    """Every report over every period, both ways; returns how many read the fragments. And
    the hourly totals of the whole fragments are theirs exactly."""
    assert server.services.events.query(TOTALS_DRIFT).rows == []
    fast, scanned = server.services.query, QueryEngine(server.services.events, rollups=False)
    used = 0
    for period in PERIODS:
        for name, report in REPORTS.items():
            assert report(fast, project, period) == report(scanned, project, period), (
                name,
                period,
            )
        used += fragments(fast.scope(project, period)) is not None
        now = period.end + timedelta(minutes=7)
        for length in insights.INSIGHT_PERIODS[:3]:
            assert insights.insights(fast, project, length, now=now) == insights.insights(
                scanned, project, length, now=now
            ), (length, now)
    return used


def test_session_reports_from_fragments_equal_the_raw_scan_through_every_stage(
    unlimited_server: RunningServer,
) -> None:
    server = unlimited_server
    project, store, token = summary_project(server, "fragments")

    send(server, token, traffic(1, 700))
    identify(server, token, "u3", "ada")
    identify(server, token, "anon1", "ada")
    assert compare(server, project) > 0  # all raw: nothing built yet

    now = datetime.now(UTC).replace(tzinfo=None)
    store.advance_rollup(now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
    [(rows, whole)] = store.query(
        "SELECT count(*), count(*) FILTER (WHERE whole) FROM session_hourly"
    ).rows
    assert 0 < whole < rows
    used = compare(server, project)
    assert used == len(PERIODS) - 2  # Kolkata's half hours and a period with no whole hour

    # received below the watermark: built by the commit that stores them, extending
    # sessions that were whole until then
    send(server, token, traffic(2, 300))
    identify(server, token, "u4", "ada")
    assert compare(server, project) == used


def test_a_late_event_splits_a_whole_session(unlimited_server: RunningServer) -> None:
    server = unlimited_server
    project, store, token = summary_project(server, "late")
    at = START + timedelta(hours=2)
    send(server, token, [event("page_view", session="x", ts=at, path="/a")])
    store.advance_rollup(datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1))
    send(server, token, [event("signup", session="x", ts=at + timedelta(hours=1), path="/b")])
    assert store.query("SELECT count(*) FROM session_hourly WHERE whole").rows == [(0,)]
    period = Period(START, END, "UTC")
    [s] = sessions.list_sessions(
        server.services.query, project, period, user_id=None, is_bounce=None, limit=10
    )["sessions"]
    assert (s["event_count"], s["is_bounce"], s["duration"]) == (2, 0, 3600.0)


def test_fragments_without_a_session_id_move_apart_in_the_migration(tmp_path: Path) -> None:
    """Schema 10 moves the fragments of events without a session id from ``session_hourly``
    to ``session_loose``; a directory set back to schema 9 (all in one table) answers the
    same after the upgrade, and new ones go to their own table."""
    data = tmp_path / "data"
    server, stop = start_server(data, ingest_rate_limit=0)
    try:
        project, store, token = summary_project(server, "loose")
        send(server, token, traffic(5, 400))
        now = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
        store.advance_rollup(now + timedelta(hours=1))
        [(loose,)] = store.query("SELECT count(*) FROM session_loose").rows
        assert loose > 0
        assert store.query("SELECT count(*) FROM session_hourly WHERE sid IS NULL").rows == [(0,)]
        used = compare(server, project)
    finally:
        stop()

    con = duckdb.connect(str(data / "events.duckdb"))  # as schema 9 left it: one table
    try:
        con.execute("INSERT INTO session_hourly SELECT * FROM session_loose")
        con.execute("DROP TABLE session_loose")
        drop_migrations_11_12(con)
        con.execute("DELETE FROM schema_version WHERE version >= 10")
        con.execute("CHECKPOINT")
    finally:
        con.close()

    server, stop = start_server(data, ingest_rate_limit=0)
    try:
        store = server.services.events
        assert store.query("SELECT count(*) FROM session_loose").rows == [(loose,)]
        assert store.query("SELECT count(*) FROM session_hourly WHERE sid IS NULL").rows == [(0,)]
        assert compare(server, project) == used
        # late events (below the watermark) without a session id: built by their commit
        late = [{k: v for k, v in e.items() if k != "session_id"} for e in traffic(6, 50)]
        send(server, token, late)
        [(now_loose,)] = store.query("SELECT count(*) FROM session_loose").rows
        assert now_loose > loose
        assert compare(server, project) == used
    finally:
        stop()
