"""GET /retention over events written through the real ingest path, checked by hand."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from agentlytics.model.project import Project
from agentlytics.query.engine import QueryEngine
from agentlytics.query.retention import RetentionSpec, reads_activity, run_retention
from agentlytics.storage.duckdb import rollup
from tests.conftest import RunningServer
from tests.factories import event, pageview, populate
from tests.helpers import ok_json, populated_project

NY = ZoneInfo("America/New_York")


def get_retention(server: RunningServer, project: dict[str, Any], **params: Any) -> dict[str, Any]:
    return ok_json(server, "GET", "/retention", params={"project": project["id"], **params})


def test_daily_cohorts_follow_the_project_time_zone(any_server: RunningServer) -> None:
    p = populated_project(
        any_server,
        [
            # r1: first seen at 22:00 on Nov 2 in New York (03:00 UTC on Nov 3), back on Nov 3
            pageview("/", user="r1", ts="2026-11-03T03:00:00"),
            pageview("/", user="r1", ts="2026-11-03T15:00:00"),
            # r2: Nov 2 morning; back at 23:30 on Nov 3 in New York (Nov 4 in UTC), and on Nov 5
            pageview("/", user="r2", ts="2026-11-02T14:00:00"),
            pageview("/", user="r2", ts="2026-11-04T04:30:00"),
            event("signup", user="r2", ts="2026-11-05T15:00:00"),
            # r3: 00:30 on Nov 3 in New York; back at 22:00 on Nov 4 (Nov 5 in UTC)
            pageview("/", user="r3", ts="2026-11-03T05:30:00"),
            pageview("/", user="r3", ts="2026-11-05T03:00:00"),
            pageview("/", user="r4", ts="2026-11-05T12:00:00"),
            # first seen in October: in no cohort, even though active on Nov 3
            pageview("/", user="old", ts="2026-10-20T12:00:00"),
            pageview("/", user="old", ts="2026-11-03T12:00:00"),
        ],
        timezone="America/New_York",  # UTC-5 in November 2026
    )
    body = get_retention(any_server, p, period="day", cohorts=4, until="2026-11-05")
    assert body["period"] == "day"
    assert body["cohorts"] == [
        {"date": "2026-11-02", "users": 2, "retained": [2, 2, 0, 1], "rates": [1.0, 1.0, 0.0, 0.5]},
        {"date": "2026-11-03", "users": 1, "retained": [1, 1, 0], "rates": [1.0, 1.0, 0.0]},
        {"date": "2026-11-04", "users": 0, "retained": [0, 0], "rates": [0.0, 0.0]},
        {"date": "2026-11-05", "users": 1, "retained": [1], "rates": [1.0]},
    ]
    # weighted by cohort size, over the cohorts that have reached each offset
    assert body["average_rates"] == [1.0, 1.0, 0.0, 0.5]
    assert (body["users_analyzed"], body["users_capped"]) == (4, False)
    assert "project_context" in body


def test_event_based_weekly_retention_starts_weeks_on_monday(any_server: RunningServer) -> None:
    p = populated_project(
        any_server,
        [
            # e1 signs up at 23:00 on Sunday Nov 8 in New York (Monday in UTC): week of Nov 2
            pageview("/", user="e1", ts="2026-11-01T15:00:00"),
            event("signup", user="e1", ts="2026-11-09T04:00:00"),
            event("purchase", user="e1", ts="2026-11-10T15:00:00"),
            # e2: a page view does not count as returning when returning_event=purchase
            event("signup", user="e2", ts="2026-11-03T15:00:00"),
            pageview("/", user="e2", ts="2026-11-10T15:00:00"),
            event("purchase", user="e2", ts="2026-11-17T15:00:00"),
            # e3: a purchase in the signup week is offset 0, the cohort itself
            event("signup", user="e3", ts="2026-11-11T15:00:00"),
            event("purchase", user="e3", ts="2026-11-11T16:00:00"),
            event("purchase", user="e3", ts="2026-11-16T15:00:00"),
            pageview("/", user="e4", ts="2026-11-04T15:00:00"),  # never signs up
        ],
        timezone="America/New_York",
    )
    body = get_retention(
        any_server,
        p,
        period="week",
        cohorts=3,
        until="2026-11-22",
        event="signup",
        returning_event="purchase",
    )
    assert [(c["date"], c["users"], c["retained"]) for c in body["cohorts"]] == [
        ("2026-11-02", 2, [2, 1, 1]),
        ("2026-11-09", 1, [1, 1]),
        ("2026-11-16", 0, [0]),
    ]
    assert body["average_rates"] == [1.0, 0.6667, 0.5]
    assert (body["event"], body["returning_event"]) == ("signup", "purchase")
    # without returning_event, returning means doing the cohort event again: nobody did
    again = get_retention(
        any_server, p, period="week", cohorts=3, until="2026-11-22", event="signup"
    )
    assert [c["retained"] for c in again["cohorts"]] == [[2, 0, 0], [1, 0], [0]]
    assert again["average_rates"][0] == 1.0


def test_bad_parameters_list_the_choices(any_server: RunningServer) -> None:
    p = any_server.new_project()
    with any_server.client() as c:
        r = c.get("/retention", params={"project": p["id"], "period": "year"})
        assert r.status_code == 400 and "day, week, month" in r.json()["message"]
        r = c.get("/retention", params={"project": p["id"], "period": "week", "cohorts": 13})
        assert r.status_code == 400 and "12" in r.json()["message"]
        assert (
            c.get(
                "/retention", params={"project": p["id"], "period": "day", "cohorts": 30}
            ).status_code
            == 200
        )


def test_identified_users_come_back_through_the_ids_mapped_to_them(
    any_server: RunningServer,
) -> None:
    p = populated_project(
        any_server,
        [
            # d0 is identified as d1: one user, first seen on Nov 1, back on Nov 2
            pageview("/", user="d0", ts="2026-11-01T10:00:00"),
            pageview("/", user="d1", ts="2026-11-02T10:00:00"),
            # c0 -> c1 -> c2: the map resolves one step, so c0 is user c1 (Nov 1 only) and
            # c1's own event on Nov 3 is user c2's, not c1's return
            pageview("/", user="c0", ts="2026-11-01T11:00:00"),
            pageview("/", user="c1", ts="2026-11-03T10:00:00"),
        ],
    )
    for previous, user in (("d0", "d1"), ("c0", "c1"), ("c1", "c2")):
        identify(any_server, p["project_token"], previous, user)
    body = get_retention(any_server, p, period="day", cohorts=4, until="2026-11-04")
    assert [(c["users"], c["retained"]) for c in body["cohorts"]] == [
        (2, [2, 1, 0, 0]),
        (0, [0, 0, 0]),
        (1, [1, 0]),
        (0, [0]),
    ]


def test_retention_matches_an_independent_python_computation(any_server: RunningServer) -> None:
    rng = random.Random(11)
    start = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
    raw = [
        (f"q{rng.randrange(60)}", start + timedelta(minutes=rng.randrange(0, 9 * 24 * 60)))
        for _ in range(500)
    ]
    p = populated_project(
        any_server,
        [pageview("/", user=u, session=None, ts=t) for u, t in raw],
        timezone="America/New_York",
    )
    body = get_retention(any_server, p, period="day", cohorts=7, until="2026-11-09")

    days = [date(2026, 11, 3) + timedelta(days=i) for i in range(7)]
    seen: dict[str, set[date]] = defaultdict(set)
    for user, moment in raw:
        seen[user].add(moment.astimezone(NY).date())
    expected = []
    for i, day in enumerate(days):
        members = [u for u, ds in seen.items() if min(ds) == day]
        retained = [
            sum(1 for u in members if day + timedelta(days=k) in seen[u]) for k in range(7 - i)
        ]
        expected.append((day.isoformat(), len(members), retained))
    assert [(c["date"], c["users"], c["retained"]) for c in body["cohorts"]] == expected
    assert body["average_rates"][0] == 1.0


# -- the per-user daily activity table (storage/duckdb/activity.py) --------------------------

ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Europe/Paris"]
SPECS = [
    RetentionSpec(period="day", cohorts=30),
    RetentionSpec(period="week", cohorts=8),
    RetentionSpec(period="month", cohorts=3),
    RetentionSpec(period="day", cohorts=5, event="signup", returning_event="page_view"),
]
# a spring-forward day (New York, March 8) and a fall-back day (Paris, October 25) inside
UNTILS = [datetime(2026, 3, 20, 17, 5, tzinfo=UTC), datetime(2026, 11, 4, 9, 30, tzinfo=UTC)]


def activity_traffic(seed: int, n: int) -> list[dict[str, Any]]:
    """Users who arrive over 75 days and come back at any hour after (local days and UTC
    days differ), some anonymous ids later identified."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        end = rng.randrange(len(UNTILS))
        arrived = rng.randrange(1, 75)
        at = UNTILS[end] - timedelta(minutes=rng.randrange(arrived * 24 * 60))
        user = f"a{end}{arrived}_{rng.randrange(3)}"
        name = rng.choice(["page_view", "page_view", "signup", "$mcp_call"])
        out.append(event(name, user=user, session=None, ts=at))
    return out


def compare_activity(server: RunningServer, project: Project) -> int:
    """Every spec, zone and end, read with the table and from the events only; returns
    how many answers came from the table."""
    with_table = server.services.query
    scanned = QueryEngine(server.services.events, rollups=False)
    used = 0
    for tz in ZONES:
        zoned = msgspec.structs.replace(project, timezone=tz)
        for spec in SPECS:
            for until in UNTILS:
                got = run_retention(with_table, zoned, spec, until=until)
                assert got == run_retention(scanned, zoned, spec, until=until), (tz, spec, until)
                assert got["users_analyzed"] > 0 and any(
                    sum(c["retained"][1:]) for c in got["cohorts"]
                ), (tz, spec, until)
                used += spec.event is None and reads_activity(with_table)
    return used


def test_activity_table_answers_equal_the_raw_scan_through_every_stage(
    make_server: Any,
) -> None:
    server: RunningServer = make_server(ingest_rate_limit=0)
    created = server.new_project("activity")
    project = server.services.meta.get_project(created["id"])
    assert project is not None
    token = created["project_token"]
    store: Any = server.services.events
    populate(server.url, token, activity_traffic(1, 1500))
    for i in range(1, 70, 9):  # identified later: earlier anonymous activity joins them
        identify(server, token, f"a1{i}_0", f"a1{i + 1}_1")
    assert compare_activity(server, project) > 0  # all from the events: the table is empty

    store.advance_rollup(datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1))
    [(rows,)] = store.query("SELECT count(*) FROM activity_daily").rows
    assert 0 < rows < 1500
    assert compare_activity(server, project) > 0

    # received below the watermark: the commit that stores them adds their activity
    populate(server.url, token, activity_traffic(2, 400))
    assert compare_activity(server, project) > 0


def identify(server: RunningServer, token: str, previous: str, user: str) -> None:
    with server.client() as c:
        body = {"token": token, "previous_id": previous, "user_id": user}
        assert c.post("/identify", json=body).status_code == 202


# -- the users' first events (storage/duckdb/first_seen.py) ----------------------------------


def assert_first_seen_exact(store: Any) -> None:
    """The table holds one row per raw user id: its first event among those received before
    the table's watermark."""
    firsts = store.query("SELECT project_id, uid, first_ts FROM user_first").rows
    expected = store.query(
        "SELECT project_id, coalesce(user_id, anonymous_id), min(timestamp) FROM events\n"
        "WHERE received_at < (SELECT watermark FROM rollup_state WHERE name = 'user_first')\n"
        "GROUP BY ALL"
    ).rows
    assert sorted(firsts) == sorted(expected)


def test_first_seen_table_answers_equal_the_raw_scan_through_every_stage(
    make_server: Any,
) -> None:
    server: RunningServer = make_server(ingest_rate_limit=0)
    created = server.new_project("firsts")
    project = server.services.meta.get_project(created["id"])
    assert project is not None
    token = created["project_token"]
    store: Any = server.services.events
    chain = [  # stitched below into c0 -> c1 -> c2: c1's own events are c2's
        event("page_view", user="c0", session=None, ts=UNTILS[1] - timedelta(days=3)),
        event("page_view", user="c1", session=None, ts=UNTILS[1] - timedelta(hours=20)),
    ]
    populate(server.url, token, activity_traffic(3, 1200) + chain)
    identify(server, token, "a19_0", "a110_1")
    assert compare_activity(server, project) > 0  # every first time from the recent events

    store.advance_rollup(datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1))
    [(rows,)] = store.query("SELECT count(*) FROM user_first").rows
    assert rows > 100
    assert_first_seen_exact(store)
    assert compare_activity(server, project) > 0

    # stitched after the build: stored raw ids now belong to other users
    for i in range(2, 70, 7):
        identify(server, token, f"a1{i}_1", f"a1{i + 3}_2")
    identify(server, token, "c0", "c1")
    identify(server, token, "c1", "c2")
    assert compare_activity(server, project) > 0

    # received below the watermark (committed with their first times), one of them before
    # a stored first event; and one user first seen long before the period looks back (only
    # the period's events count: its first time there comes from the points)
    [(uid, first)] = store.query(
        "SELECT uid, first_ts FROM user_first WHERE first_ts > ? ORDER BY first_ts, uid LIMIT 1",
        [(UNTILS[1] - timedelta(days=20)).replace(tzinfo=None)],
    ).rows
    late = activity_traffic(4, 300)
    late.append(event("page_view", user=uid, session=None, ts=first - timedelta(days=2)))
    late.append(event("page_view", user="a13_0", session=None, ts=UNTILS[1] - timedelta(days=900)))
    populate(server.url, token, late)
    assert_first_seen_exact(store)
    assert compare_activity(server, project) > 0

    # built from scratch at start-up
    def rebuild() -> None:
        con = store._con
        con.execute("DELETE FROM user_first")
        con.execute(
            "UPDATE rollup_state SET watermark = ? WHERE name = 'user_first'",
            [datetime(1970, 1, 1)],
        )
        rollup.catch_up_summaries(con, rollup.watermark(con))

    store._call(rebuild)
    assert_first_seen_exact(store)
    assert compare_activity(server, project) > 0
