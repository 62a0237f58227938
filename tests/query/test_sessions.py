"""GET /sessions, /sessions/distribution and /pages over data sent through the real ingest path."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import RunningServer
from tests.factories import event, ms, pageview, populate

DAY = "2026-11-02"


@pytest.fixture
def site(server: RunningServer) -> dict[str, Any]:
    """Six sessions on one day (UTC), worked out by hand:

    s1 (u1): /, /pricing, /signup, then a signup event: 630 s, 4 events, not a bounce.
    s2 (u2): one page view of /: a bounce, 0 s.
    u3, no session id: / at 10:00, /docs at 10:29 (29 min: same session), / at 11:00
        (31 min later: a new session). Page views only, so both are bounces.
    s4 (u4): /blog, then $scroll_depth 20 s later: passive events only, so a bounce.
    s5 (u5): a signup event and no page view: no entry or exit page, not a bounce.
    """
    p = server.new_project()
    populate(
        server.url,
        p["project_token"],
        [
            pageview("/", user="u1", session="s1", ts=f"{DAY}T09:00:00"),
            pageview("/pricing", user="u1", session="s1", ts=f"{DAY}T09:05:00"),
            pageview("/signup", user="u1", session="s1", ts=f"{DAY}T09:10:00"),
            event("signup", user="u1", session="s1", ts=f"{DAY}T09:10:30"),
            pageview("/", user="u2", session="s2", ts=f"{DAY}T09:30:00"),
            pageview("/", user="u3", session=None, ts=f"{DAY}T10:00:00"),
            pageview("/docs", user="u3", session=None, ts=f"{DAY}T10:29:00"),
            pageview("/", user="u3", session=None, ts=f"{DAY}T11:00:00"),
            pageview("/blog", user="u4", session="s4", ts=f"{DAY}T12:00:00"),
            event("$scroll_depth", user="u4", session="s4", ts=f"{DAY}T12:00:20", depth=50),
            event("signup", user="u5", session="s5", ts=f"{DAY}T13:00:00"),
        ],
    )
    return p


def get(server: RunningServer, path: str, **params: Any) -> dict[str, Any]:
    with server.client() as c:
        r = c.get(path, params=params)
        assert r.status_code == 200, r.text
        return dict(r.json())


def summary(s: dict[str, Any]) -> tuple[Any, ...]:
    return (
        s["user_id"],
        s["entry_page"],
        s["exit_page"],
        s["event_count"],
        s["is_bounce"],
        s["duration"],
    )


def test_sessions_are_listed_newest_first_with_entry_exit_and_bounce(
    server: RunningServer, site: dict[str, Any]
) -> None:
    body = get(server, "/sessions", project=site["name"], since=DAY, until=DAY)
    assert [summary(s) for s in body["sessions"]] == [
        ("u5", None, None, 1, 0, 0),
        ("u4", "/blog", "/blog", 2, 1, 20),
        ("u3", "/", "/", 1, 1, 0),
        ("u3", "/", "/docs", 2, 1, 29 * 60),
        ("u2", "/", "/", 1, 1, 0),
        ("u1", "/", "/signup", 4, 0, 630),
    ]
    s1 = body["sessions"][-1]
    assert s1["session_id"] == "s1"
    assert (s1["start_time"], s1["end_time"]) == (ms(f"{DAY}T09:00:00"), ms(f"{DAY}T09:10:30"))
    assert (s1["project_id"], s1["date"]) == (site["id"], DAY)
    assert body["truncated"] is False
    assert body["project_context"] == {"goals": [], "activation_events": [], "glossary": []}


def test_thirty_minutes_of_inactivity_starts_a_new_session(
    server: RunningServer, site: dict[str, Any]
) -> None:
    body = get(server, "/sessions", project=site["name"], since=DAY, user_id="u3")
    later, first = body["sessions"]
    # 10:00 and 10:29 are one session (29 min apart); 11:00 comes 31 min later
    assert (first["start_time"], first["end_time"]) == (
        ms(f"{DAY}T10:00:00"),
        ms(f"{DAY}T10:29:00"),
    )
    assert (later["start_time"], later["end_time"]) == (
        ms(f"{DAY}T11:00:00"),
        ms(f"{DAY}T11:00:00"),
    )
    assert first["session_id"] != later["session_id"]


def test_sessions_filter_by_bounce_and_report_truncation(
    server: RunningServer, site: dict[str, Any]
) -> None:
    engaged = get(server, "/sessions", project=site["name"], since=DAY, is_bounce=0)
    assert [s["user_id"] for s in engaged["sessions"]] == ["u5", "u1"]
    bounced = get(server, "/sessions", project=site["name"], since=DAY, is_bounce=1)
    assert [s["user_id"] for s in bounced["sessions"]] == ["u4", "u3", "u3", "u2"]
    top = get(server, "/sessions", project=site["name"], since=DAY, limit=2)
    assert [s["user_id"] for s in top["sessions"]] == ["u5", "u4"]
    assert top["truncated"] is True


def test_a_session_user_is_resolved_through_the_identity_map(server: RunningServer) -> None:
    p = server.new_project()
    populate(
        server.url,
        p["project_token"],
        [
            pageview("/", user="anon-7", session="a", ts=f"{DAY}T08:00:00"),
        ],
    )
    with server.client() as c:
        r = c.post(
            "/identify",
            json={"token": p["project_token"], "previous_id": "anon-7", "user_id": "ada"},
        )
        assert r.status_code == 202
    [s] = get(server, "/sessions", project=p["name"], since=DAY, user_id="ada")["sessions"]
    assert (s["session_id"], s["user_id"]) == ("a", "ada")


def test_session_date_is_the_start_day_in_the_project_time_zone(server: RunningServer) -> None:
    p = server.new_project(timezone="America/New_York")
    populate(
        server.url,
        p["project_token"],
        [
            pageview(
                "/", user="a", session="late", ts="2026-11-03T03:00:00"
            ),  # 22:00 on Nov 2 in New York
        ],
    )
    [s] = get(server, "/sessions", project=p["name"], since="2026-11-01", until="2026-11-04")[
        "sessions"
    ]
    assert s["date"] == "2026-11-02"


def test_distribution_buckets_sessions_by_duration(
    server: RunningServer, site: dict[str, Any]
) -> None:
    body = get(server, "/sessions/distribution", project=site["name"], since=DAY, until=DAY)
    assert body["distribution"] == [
        # s2, u3's second and s5; s5 is no bounce
        {"bucket": "0s", "sessions": 3, "bounces": 2, "avg_events": 1.0, "pct": 50.0},
        {"bucket": "10-30s", "sessions": 1, "bounces": 1, "avg_events": 2.0, "pct": 16.7},  # s4
        # s1 (630 s, 4 events) and u3's first (1740 s, 2 events)
        {"bucket": "10-30m", "sessions": 2, "bounces": 1, "avg_events": 3.0, "pct": 33.3},
    ]
    assert body["median_bucket"] == "0s"  # the 3rd of 6 sessions, shortest first
    assert body["engaged_pct"] == 33.3  # 2 of 6 last 30 s or more


def test_distribution_bucket_edges_and_median(server: RunningServer) -> None:
    p = server.new_project()
    start = f"{DAY}T08:00:00"
    events = []
    # sessions lasting 29 s, 30 s, 60 s and 45 min (one session id keeps a long session whole)
    for sid, seconds in (("a", 29), ("b", 30), ("c", 60), ("d", 45 * 60)):
        events.append(event("click", user=sid, session=sid, ts=start))
        end = ms(start) + seconds * 1000
        events.append({**event("click", user=sid, session=sid), "timestamp": end})
    populate(server.url, p["project_token"], events)
    body = get(server, "/sessions/distribution", project=p["name"], since=DAY, until=DAY)
    assert [(b["bucket"], b["sessions"], b["bounces"]) for b in body["distribution"]] == [
        ("10-30s", 1, 0),
        ("30-60s", 1, 0),
        ("1-3m", 1, 0),
        ("30m+", 1, 0),
    ]
    assert body["median_bucket"] == "30-60s"
    assert body["engaged_pct"] == 75.0


def test_distribution_of_no_sessions_is_empty(server: RunningServer) -> None:
    p = server.new_project()
    body = get(server, "/sessions/distribution", project=p["name"])
    assert (body["distribution"], body["median_bucket"], body["engaged_pct"]) == ([], None, 0)


def test_entry_and_exit_pages(server: RunningServer, site: dict[str, Any]) -> None:
    entry = get(server, "/pages", project=site["name"], since=DAY, until=DAY)
    assert "exit_pages" not in entry
    assert entry["entry_pages"] == [
        # s1 (630 s, 4 events), s2, u3's two sessions (1740 s + 0 s); all but s1 bounce
        {
            "page": "/",
            "sessions": 4,
            "bounces": 3,
            "bounce_rate": 0.75,
            "avg_duration": 592.5,
            "avg_events": 2.0,
        },
        {
            "page": "/blog",
            "sessions": 1,
            "bounces": 1,
            "bounce_rate": 1.0,
            "avg_duration": 20.0,
            "avg_events": 2.0,
        },
    ]  # s5 has no page view, so no entry page
    exits = get(server, "/pages", project=site["name"], since=DAY, type="exit")
    assert "entry_pages" not in exits
    assert [
        (r["page"], r["sessions"], r["bounce_rate"], r["avg_duration"]) for r in exits["exit_pages"]
    ] == [
        ("/", 2, 1.0, 0.0),
        ("/blog", 1, 1.0, 20.0),
        ("/docs", 1, 1.0, 1740.0),
        ("/signup", 1, 0.0, 630.0),
    ]
    both = get(server, "/pages", project=site["name"], since=DAY, type="both", limit=1)
    assert [r["page"] for r in both["entry_pages"]] == ["/"]
    assert [r["page"] for r in both["exit_pages"]] == ["/"]
    assert both["truncated"] is True


def test_bad_parameters_answer_400_that_says_what_to_fix(
    server: RunningServer, site: dict[str, Any]
) -> None:
    with server.client() as c:
        r = c.get("/sessions", params={"project": site["name"], "is_bounce": "maybe"})
        assert r.status_code == 400 and r.json()["error"] == "INVALID_PARAMETER"
        assert "0 or 1" in r.json()["message"]
        r = c.get("/sessions", params={"project": site["name"], "limit": 1001})
        assert r.status_code == 400 and "between 1 and 1000" in r.json()["message"]
        r = c.get("/pages", params={"project": site["name"], "type": "landing"})
        assert r.status_code == 400 and r.json()["error"] == "INVALID_PARAMETER"
        assert "entry, exit, both" in r.json()["message"]
        r = c.get("/sessions", params={"project": site["name"], "since": "last tuesday"})
        assert r.status_code == 400 and r.json()["error"] == "INVALID_DATE"
        r = c.get("/sessions/distribution")
        assert r.status_code == 400 and r.json()["error"] == "PROJECT_REQUIRED"


def test_session_reads_are_scoped_to_the_keys_account(
    server: RunningServer, site: dict[str, Any]
) -> None:
    other = server.services.projects.create_account(f"mallory-{uuid.uuid4().hex[:8]}@example.com")
    _, key = server.services.projects.create_api_key(other, "m", "read")
    with server.client(key) as c:
        for path in ("/sessions", "/sessions/distribution", "/pages"):
            r = c.get(path, params={"project": site["id"]})
            assert r.status_code == 404, path
            assert r.json()["error"] == "NOT_FOUND"
