"""POST /paths over sessions written through the real ingest path, checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agentlytics.query.paths import PathsSpec, fetch_paths, paths_sql
from tests.conftest import RunningServer
from tests.factories import event, pageview
from tests.helpers import ok_json, populated_project


def post_paths(server: RunningServer, project: dict[str, Any], **body: Any) -> dict[str, Any]:
    return ok_json(server, "POST", "/paths", json={"project": project["name"], **body})


def session(
    user: str, start: datetime, *steps: str | tuple[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """One session, a minute between events: "/x" is a page view, anything else an event."""
    out = []
    for i, step in enumerate(steps):
        ts = start + timedelta(minutes=i)
        name, props = step if isinstance(step, tuple) else (step, {})
        if name.startswith("/"):
            out.append(pageview(name, user=user, session=f"{user}-s", ts=ts))
        else:
            out.append(event(name, user=user, session=f"{user}-s", ts=ts, **props))
    return out


def test_paths_end_in_goal_drop_off_or_truncated(any_server: RunningServer) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    p = populated_project(
        any_server,
        [
            *session(
                "u1", now - timedelta(hours=5), "/", "/pricing", "cta_click", "signup", "/welcome"
            ),
            # a repeated page collapses; passive events are not steps
            *session("u2", now - timedelta(hours=4), "/", "/pricing", "/pricing", "$scroll_depth"),
            *session("u3", now - timedelta(hours=3), "/", "/a", "/b", "/c", "/d", "/e"),
            *session("u4", now - timedelta(hours=2), "/docs"),
            *session("u5", now - timedelta(hours=1), "/", "/pricing"),
            # no page view: not a candidate session
            *session("u6", now - timedelta(hours=1), "api_call", "signup"),
        ],
    )
    body = post_paths(any_server, p, goal_event="signup", since="7d")
    home, docs = body["entries"]
    assert (home["entry_page"], home["sessions"], home["conversions"]) == ("/", 4, 1)
    assert home["conversion_rate"] == 0.25
    assert home["paths"] == [
        {"steps": ["/", "/pricing"], "sessions": 2, "outcome": "drop_off"},
        {"steps": ["/", "/pricing", "cta_click"], "sessions": 1, "outcome": "goal"},
        {"steps": ["/", "/a", "/b", "/c", "/d"], "sessions": 1, "outcome": "truncated"},
    ]
    assert home["exit_pages"] == [
        {"page": "/pricing", "sessions": 2, "conversions": 0, "drop_offs": 2},
        {"page": "/e", "sessions": 1, "conversions": 0, "drop_offs": 1},
        {"page": "/welcome", "sessions": 1, "conversions": 1, "drop_offs": 0},
    ]
    assert docs == {
        "entry_page": "/docs",
        "sessions": 1,
        "conversions": 0,
        "conversion_rate": 0.0,
        "paths": [{"steps": ["/docs"], "sessions": 1, "outcome": "drop_off"}],
        "other_paths_sessions": 0,
        "exit_pages": [{"page": "/docs", "sessions": 1, "conversions": 0, "drop_offs": 1}],
    }
    assert (body["sessions_analyzed"], body["conversions"], body["truncated"]) == (5, 1, False)

    short = post_paths(any_server, p, goal_event="signup", max_steps=2, path_limit=1, entry_limit=1)
    [only] = short["entries"]
    # u2 and u5 end within two steps; u3 is cut after two; u1 reached the goal
    assert only["paths"] == [{"steps": ["/", "/pricing"], "sessions": 2, "outcome": "drop_off"}]
    assert only["other_paths_sessions"] == 2
    assert [e["page"] for e in only["exit_pages"]] == ["/pricing"]


def test_candidate_sessions_are_capped_and_reported(any_server: RunningServer) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    p = populated_project(
        any_server,
        [
            pageview("/", user=f"c{i}", session=f"c{i}", ts=now - timedelta(minutes=i + 1))
            for i in range(101)
        ],
    )
    body = post_paths(any_server, p, goal_event="signup", candidate_session_cap=100)
    assert (body["sessions_analyzed"], body["truncated"]) == (100, True)
    assert body["entries"][0]["sessions"] == 100


def test_out_of_bounds_knobs_fail_with_the_choices(any_server: RunningServer) -> None:
    p = any_server.new_project()
    with any_server.client() as c:
        r = c.post("/paths", json={"project": p["name"], "goal_event": "x", "since": "5d"})
        assert r.status_code == 400 and "7d, 14d, 30d, 90d" in r.json()["message"]
        r = c.post("/paths", json={"project": p["name"], "goal_event": "x", "max_steps": 6})
        assert r.status_code == 400 and "between 1 and 5" in r.json()["message"]
        r = c.post(
            "/paths", json={"project": p["name"], "goal_event": "x", "candidate_session_cap": 50}
        )
        assert r.status_code == 400
        r = c.post("/paths", json={"project": p["name"]})
        assert r.status_code == 400 and r.json()["error"] == "MISSING_FIELDS"


def test_reading_back_from_the_end_finds_the_same_sessions_as_the_whole_period(
    any_server: RunningServer,
) -> None:
    """``fetch_paths`` looks at the newest hours first and widens; a session that began
    long before and is still active, sessions without a ``session_id`` and a goal before
    the first page view must come out as a read of the whole period has them."""
    now = datetime.now(UTC).replace(microsecond=0)
    events = []
    for i in range(110):  # enough for a cap of 100 in the newest 6 hours, not for 200
        events += session(f"n{i}", now - timedelta(minutes=3 * i + 10), "/", "/pricing", "signup")
    for i in range(100):
        events += session(f"d{i}", now - timedelta(hours=7, minutes=10 * i), "/docs", "cta")
    events += session("long", now - timedelta(days=3), "/", "/a")
    events += session("long", now - timedelta(hours=1), "/b", "/c")
    # the goal long before the first page view, which is among the newest
    events.append(event("signup", user="early", session="early-s", ts=now - timedelta(hours=8)))
    events += [
        pageview(path, user="early", session="early-s", ts=now - timedelta(hours=2, minutes=-j))
        for j, path in enumerate(["/", "/x"])
    ]
    for i in range(5):  # no session_id: the inactivity rule makes their sessions
        for j, path in enumerate(["/", "/pricing", "/docs"]):
            at = now - timedelta(hours=3 * i + 1, minutes=-j)
            events.append(pageview(path, user=f"anon{i}", session=None, ts=at))
    p = populated_project(any_server, events)
    project = any_server.services.meta.get_project(p["id"])
    assert project is not None
    engine = any_server.services.query
    for cap, steps in [(100, 5), (100, 2), (200, 5), (1000, 5)]:
        spec = PathsSpec(
            goal_event="signup", since="7d", candidate_session_cap=cap, max_steps=steps
        )
        period = engine.period(project, "7d", None)
        scope = engine.scope(project, period)
        whole = engine.fetch(scope, paths_sql(scope, spec))
        found = fetch_paths(engine, project, period, spec)
        strip = [{k: v for k, v in r.items() if k != "recent_starts"} for r in whole]
        assert [{k: v for k, v in r.items() if k != "recent_starts"} for r in found] == strip
        assert len({r["sid"] for r in found}) == min(cap + 1, 110 + 100 + 2 + 5)
        early = [r for r in found if r["sid"] == "early-s"]
        # converted, with no step before the goal (n is NULL, or 0 on ClickHouse)
        assert [(bool(r["converted"]), bool(r["n"])) for r in early] == [(True, False)]
