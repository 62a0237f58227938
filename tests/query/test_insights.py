"""GET /insights and GET /heatmap over data sent through the real ingest path."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import RunningServer
from tests.factories import event, pageview, populate


def get(server: RunningServer, path: str, **params: Any) -> dict[str, Any]:
    with server.client() as c:
        r = c.get(path, params=params)
        assert r.status_code == 200, r.text
        return dict(r.json())


def test_insights_compare_with_the_previous_period_and_see_a_decline(
    server: RunningServer,
) -> None:
    # with period=7d, "now - 10 days" is in the previous window and "now - 2 days" in this one
    now = datetime.now(UTC)
    before, lately = now - timedelta(days=10), now - timedelta(days=2)
    p = server.new_project()
    populate(
        server.url,
        p["project_token"],
        [
            # previous: 4 events, 2 users, 2 sessions, neither a bounce, lasting 60 s and 30 s
            pageview("/", user="u1", session="s1", ts=before),
            event("signup", user="u1", session="s1", ts=before + timedelta(seconds=60)),
            pageview("/", user="u2", session="s2", ts=before),
            event("cta", user="u2", session="s2", ts=before + timedelta(seconds=30)),
            # current: one page view, a bounce of 0 s
            pageview("/", user="u1", session="s3", ts=lately),
        ],
    )
    body = get(server, "/insights", project=p["name"])
    m = body["metrics"]
    assert m["total_events"] == {"current": 1, "previous": 4, "change": -3, "change_pct": -75.0}
    assert m["unique_users"] == {"current": 1, "previous": 2, "change": -1, "change_pct": -50.0}
    assert m["total_sessions"] == {"current": 1, "previous": 2, "change": -1, "change_pct": -50.0}
    # previous bounce rate was 0: no base to compare with, so change_pct is null
    assert m["bounce_rate"] == {"current": 1, "previous": 0, "change": 1, "change_pct": None}
    assert m["avg_duration"] == {
        "current": 0,
        "previous": 45,
        "change": -45,
        "change_pct": -100.0,
    }
    assert body["trend"] == "declining"
    assert body["previous_period"]["to"] == body["current_period"]["from"]
    assert "project_context" in body


def test_insights_from_nothing_is_growing_and_nothing_at_all_is_stable(
    server: RunningServer,
) -> None:
    p = server.new_project()
    now = datetime.now(UTC)
    populate(
        server.url, p["project_token"], [pageview("/", user="u1", ts=now - timedelta(hours=2))]
    )
    body = get(server, "/insights", project=p["name"], period="1d")
    assert body["metrics"]["total_events"] == {
        "current": 1,
        "previous": 0,
        "change": 1,
        "change_pct": None,
    }
    assert body["trend"] == "growing"
    empty = get(server, "/insights", project=server.new_project()["name"], period="90d")
    assert {m["change_pct"] for m in empty["metrics"].values()} == {None}
    assert {m["current"] for m in empty["metrics"].values()} == {0}
    assert empty["trend"] == "stable"


def test_insights_period_must_be_one_of_the_contracts(server: RunningServer) -> None:
    p = server.new_project()
    with server.client() as c:
        r = c.get("/insights", params={"project": p["name"], "period": "3d"})
    assert r.status_code == 400 and r.json()["error"] == "INVALID_PARAMETER"
    assert "1d, 7d, 14d, 30d, 90d" in r.json()["message"]


def test_heatmap_is_in_utc_whatever_the_project_zone(server: RunningServer) -> None:
    # New York is UTC-5 in November: Tuesday 03:00 UTC is Monday 22:00 there
    p = server.new_project(timezone="America/New_York")
    populate(
        server.url,
        p["project_token"],
        [
            pageview("/", user="a", ts="2026-11-03T03:00:00"),  # Tuesday
            pageview("/", user="b", ts="2026-11-03T03:10:00"),
            pageview("/", user="a", ts="2026-11-03T03:20:00"),
            pageview("/", user="c", ts="2026-11-01T15:00:00"),  # Sunday
            pageview("/", user="c", ts="2026-11-02T15:00:00"),  # Monday
            pageview("/", user="c", ts="2026-11-02T16:00:00"),
            # after the last UTC day asked for (but Nov 3, 21:00 in New York)
            pageview("/", user="d", ts="2026-11-04T02:00:00"),
        ],
    )
    body = get(server, "/heatmap", project=p["name"], since="2026-11-01", until="2026-11-03")
    assert body["heatmap"] == [
        {"day": 0, "day_name": "Sunday", "hour": 15, "events": 1, "users": 1},
        {"day": 1, "day_name": "Monday", "hour": 15, "events": 1, "users": 1},
        {"day": 1, "day_name": "Monday", "hour": 16, "events": 1, "users": 1},
        {"day": 2, "day_name": "Tuesday", "hour": 3, "events": 3, "users": 2},
    ]
    assert body["peak"] == {"day": 2, "day_name": "Tuesday", "hour": 3, "events": 3, "users": 2}
    assert (body["busiest_day"], body["busiest_hour"]) == ("Tuesday", 3)
    assert body["timezone"] == "UTC"


def test_heatmap_without_data_has_no_peak(server: RunningServer) -> None:
    body = get(server, "/heatmap", project=server.new_project()["name"])
    assert (body["heatmap"], body["peak"], body["busiest_day"], body["busiest_hour"]) == (
        [],
        None,
        None,
        None,
    )


def test_insight_reads_are_scoped_to_the_keys_account(server: RunningServer) -> None:
    p = server.new_project()
    other = server.services.projects.create_account(f"trudy-{uuid.uuid4().hex[:8]}@example.com")
    _, key = server.services.projects.create_api_key(other, "t", "read")
    with server.client(key) as c:
        for path in ("/insights", "/heatmap"):
            r = c.get(path, params={"project": p["id"]})
            assert r.status_code == 404, path


def test_reads_overlap_only_while_no_other_statement_runs(server: RunningServer) -> None:
    """``QueryEngine.together`` runs a request's reads side by side on an idle server, and
    one after the other while another request's statement is running (on the real store)."""
    engine = server.services.query
    project = server.services.meta.get_project(server.new_project()["id"])
    assert project is not None
    scope = engine.scope(project, engine.period(project, "7d", None))
    ran: list[str] = []

    def where() -> None:
        ran.append(threading.current_thread().name)

    engine.together(where, where)
    assert ran[0] == threading.current_thread().name and ran[1].startswith("agentlytics-read")

    # another request's statement, held running (by a function that waits) until released
    release = threading.Event()
    name = f"held_{uuid.uuid4().hex[:8]}"

    def held() -> int:
        release.wait(30)
        return 1

    store: Any = server.services.events
    store._call(lambda: store._con.create_function(name, held, [], "BIGINT", side_effects=True))
    busy = threading.Thread(target=engine.fetch, args=(scope, f"SELECT {name}() AS h"))
    busy.start()
    try:
        deadline = time.monotonic() + 30
        while not engine._running:
            assert time.monotonic() < deadline, "the other statement never started"
            time.sleep(0.001)
        ran.clear()
        engine.together(where, where)
        assert engine._running == 1, "the other statement was still running"
        assert ran == [threading.current_thread().name] * 2
    finally:
        release.set()
        busy.join()
    assert engine._running == 0
