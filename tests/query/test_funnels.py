"""POST /funnel over events written through the real ingest path, checked against hand counts.

Window rule under test: step k counts when it is strictly later than step k-1 and at most
``conversion_window_hours`` after step 1 — a step exactly at the window's end counts, one
millisecond later does not.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx

from tests.conftest import RunningServer
from tests.factories import event, ms, pageview
from tests.helpers import ok_json, populated_project

DAY = "2026-11-02"


def post_funnel(server: RunningServer, project: dict[str, Any], **body: Any) -> dict[str, Any]:
    body = {"project": project["name"], "since": DAY, "until": DAY, **body}
    return ok_json(server, "POST", "/funnel", json=body)


def steps_of(*names: str) -> list[dict[str, Any]]:
    return [{"event": n} for n in names]


def native_levels(
    server: RunningServer, project: dict[str, Any], window_ms: int, names: list[str]
) -> list[int] | None:
    """Step counts from ClickHouse's own windowFunnel (strict_increase), or None on DuckDB.

    Our engine computes time-to-convert too, which windowFunnel cannot; this checks that the
    two agree on how far each user got.
    """
    if server.services.events.dialect != "clickhouse":
        return None
    conds = ", ".join(f"name = '{n}'" for n in names)
    rows = server.services.events.query(
        f"SELECT windowFunnel({window_ms}, 'strict_increase')"
        f"(toUInt64(toUnixTimestamp64Milli(timestamp)), {conds}) AS level "
        "FROM events WHERE project_id = ? GROUP BY user_id",
        [project["id"]],
    ).rows
    return [sum(1 for (level,) in rows if level >= k) for k in range(1, len(names) + 1)]


def test_funnel_counts_drop_off_and_time_to_next(any_server: RunningServer) -> None:
    p = populated_project(
        any_server,
        [
            pageview("/", user="u1", ts=f"{DAY}T09:00:00"),
            event("signup", user="u1", ts=f"{DAY}T09:10:00"),
            event("purchase", user="u1", ts=f"{DAY}T09:30:00"),
            pageview("/", user="u2", ts=f"{DAY}T10:00:00"),
            event("signup", user="u2", ts=f"{DAY}T11:00:00"),
            pageview("/", user="u3", ts=f"{DAY}T12:00:00"),
            # order matters: u4 signed up before viewing a page, so only reaches step 1
            event("signup", user="u4", ts=f"{DAY}T08:00:00"),
            pageview("/", user="u4", ts=f"{DAY}T09:00:00"),
            event("purchase", user="u5", ts=f"{DAY}T09:00:00"),  # never entered
        ],
    )
    body = post_funnel(any_server, p, steps=steps_of("page_view", "signup", "purchase"))
    assert [s["users"] for s in body["steps"]] == [4, 2, 1]
    assert [s["conversion_rate"] for s in body["steps"]] == [1.0, 0.5, 0.5]
    assert [s["drop_off_rate"] for s in body["steps"]] == [0.0, 0.5, 0.5]
    assert [s["conversion_from_start"] for s in body["steps"]] == [1.0, 0.5, 0.25]
    # u1 took 10 min and u2 60 min to sign up; u1 took 20 min from signup to purchase
    assert [s["avg_time_to_next_ms"] for s in body["steps"]] == [2_100_000, 1_200_000, None]
    assert (body["steps"][0]["step"], body["steps"][0]["event"]) == (1, "page_view")
    assert body["overall_conversion_rate"] == 0.25
    assert body["avg_time_to_convert_ms"] == 1_800_000
    assert (body["users_analyzed"], body["users_total"], body["users_capped"]) == (4, 4, False)
    assert body["breakdowns"] == []
    assert "project_context" in body


def test_window_end_counts_and_one_millisecond_later_does_not(any_server: RunningServer) -> None:
    p = populated_project(
        any_server,
        [
            # w1: b exactly 1 h after a (counts)
            event("a", user="w1", ts=f"{DAY}T10:00:00.000"),
            event("b", user="w1", ts=f"{DAY}T11:00:00.000"),
            # w2: b 1 h + 1 ms after a (does not)
            event("a", user="w2", ts=f"{DAY}T10:00:00.000"),
            event("b", user="w2", ts=f"{DAY}T11:00:00.001"),
            # w3: the window runs from step 1, not from the step before
            event("a", user="w3", ts=f"{DAY}T10:00:00.000"),
            event("b", user="w3", ts=f"{DAY}T10:40:00.000"),
            event("c", user="w3", ts=f"{DAY}T11:00:00.001"),
            # w4: the whole chain inside the window, c exactly at its end
            event("a", user="w4", ts=f"{DAY}T10:00:00.000"),
            event("b", user="w4", ts=f"{DAY}T10:30:00.000"),
            event("c", user="w4", ts=f"{DAY}T11:00:00.000"),
            # w5: a step in the same millisecond as the one before is not "after" it
            event("a", user="w5", ts=f"{DAY}T10:00:00.000"),
            event("b", user="w5", ts=f"{DAY}T10:00:00.000"),
            # w6: an early a that cannot finish, a later a that can: the later chain is taken
            event("a", user="w6", ts=f"{DAY}T08:00:00.000"),
            event("a", user="w6", ts=f"{DAY}T10:00:00.000"),
            event("b", user="w6", ts=f"{DAY}T10:05:00.000"),
        ],
    )
    body = post_funnel(any_server, p, steps=steps_of("a", "b", "c"), conversion_window_hours=1)
    assert [s["users"] for s in body["steps"]] == [6, 4, 1]
    assert native_levels(any_server, p, 3_600_000, ["a", "b", "c"]) in (None, [6, 4, 1])
    # w1 60 min, w3 40 min, w4 30 min, w6 5 min
    assert body["steps"][0]["avg_time_to_next_ms"] == (60 + 40 + 30 + 5) * 60_000 / 4
    two_hours = post_funnel(any_server, p, steps=steps_of("a", "b", "c"), conversion_window_hours=2)
    assert [s["users"] for s in two_hours["steps"]] == [6, 5, 2]


def test_count_by_session_and_breakdown_and_step_filters(any_server: RunningServer) -> None:
    p = populated_project(
        any_server,
        [
            # x: two sessions, one of which signs up
            pageview("/", user="x", session="xa", ts=f"{DAY}T09:00:00", variant="a"),
            event("signup", user="x", session="xa", ts=f"{DAY}T09:05:00", plan="pro"),
            pageview("/", user="x", session="xb", ts=f"{DAY}T15:00:00", variant="a"),
            pageview("/pricing", user="y", session="ya", ts=f"{DAY}T09:00:00", variant="b"),
            event("signup", user="y", session="ya", ts=f"{DAY}T09:01:00", plan="free"),
            pageview("/pricing", user="z", session="za", ts=f"{DAY}T09:00:00", variant="b"),
            event("signup", user="z", session="za", ts=f"{DAY}T09:01:00", plan="pro"),
            pageview("/pricing", user="v", session="va", ts=f"{DAY}T09:00:00"),
        ],
    )
    steps = steps_of("page_view", "signup")
    by_user = post_funnel(any_server, p, steps=steps)
    assert [s["users"] for s in by_user["steps"]] == [4, 3]
    by_session = post_funnel(any_server, p, steps=steps, count_by="session_id")
    assert [s["users"] for s in by_session["steps"]] == [5, 3]
    assert by_session["count_by"] == "session_id"

    # x's first (and best) step-1 event carries variant=a; groups by step-1 users, then value
    split = post_funnel(any_server, p, steps=steps, breakdown="variant", breakdown_limit=2)
    assert [(b["value"], [s["users"] for s in b["steps"]]) for b in split["breakdowns"]] == [
        ("b", [2, 2]),
        ("a", [1, 1]),
    ]
    assert split["breakdowns_truncated"] is True
    everyone = post_funnel(any_server, p, steps=steps, breakdown="variant")
    assert [(b["value"], b["overall_conversion_rate"]) for b in everyone["breakdowns"]] == [
        ("b", 1.0),
        ("a", 1.0),
        (None, 0.0),
    ]
    by_path = post_funnel(any_server, p, steps=steps, breakdown="path")
    assert {b["value"]: b["steps"][0]["users"] for b in by_path["breakdowns"]} == {
        "/pricing": 3,
        "/": 1,
    }

    filtered = post_funnel(
        any_server,
        p,
        steps=[
            {
                "event": "page_view",
                "filters": [{"property": "path", "op": "eq", "value": "/pricing"}],
            },
            {"event": "signup", "filters": [{"property": "plan", "op": "eq", "value": "pro"}]},
        ],
    )
    assert [s["users"] for s in filtered["steps"]] == [3, 1]  # y, z, v enter; only z is pro


def test_identified_visitors_are_one_user(any_server: RunningServer) -> None:
    p = populated_project(
        any_server,
        [
            pageview("/", user="anon-7", session="a", ts=f"{DAY}T08:00:00"),
            event("signup", user="real-7", session="a", ts=f"{DAY}T08:05:00"),
        ],
    )
    before = post_funnel(any_server, p, steps=steps_of("page_view", "signup"))
    assert [s["users"] for s in before["steps"]] == [1, 0]
    r = httpx.post(
        any_server.url + "/identify",
        json={"token": p["project_token"], "previous_id": "anon-7", "user_id": "real-7"},
    )
    assert r.status_code == 202
    after = post_funnel(any_server, p, steps=steps_of("page_view", "signup"))
    assert [s["users"] for s in after["steps"]] == [1, 1]


def test_convalytics_steps_with_wildcards(any_server: RunningServer) -> None:
    p = populated_project(
        any_server,
        [
            pageview("/blog/post-1", user="c1", ts=f"{DAY}T09:00:00"),
            event("signup", user="c1", ts=f"{DAY}T09:10:00"),
            event("checkout_done", user="c1", ts=f"{DAY}T09:20:00"),
            pageview("/blogroll", user="c2", ts=f"{DAY}T09:00:00"),  # not under /blog/
            event("signup", user="c2", ts=f"{DAY}T09:10:00"),
            pageview("/blog/post-2", user="c3", ts=f"{DAY}T09:00:00"),
            event("blog_post", user="c4", ts=f"{DAY}T09:00:00"),  # an event, not a page view
        ],
    )
    body = post_funnel(
        any_server,
        p,
        steps=[
            {"kind": "pageview", "match": "/blog/*", "label": "Read the blog"},
            {"kind": "event", "match": "signup"},
            {"kind": "event", "match": "checkout_*"},
        ],
    )
    assert [(s["event"], s["users"]) for s in body["steps"]] == [
        ("Read the blog", 2),
        ("signup", 1),
        ("checkout_*", 1),
    ]


def test_bad_steps_answer_invalid_funnel_steps(any_server: RunningServer) -> None:
    p = any_server.new_project()
    with any_server.client() as c:
        for steps in (
            [{"event": "a"}],
            [{"event": f"e{i}"} for i in range(9)],
            [{"event": "a"}, {"kind": "click", "match": "x"}],
            [{"event": "a"}, {"match": "/a*b"}],
            [{"event": "a"}, {"nope": 1}],
            "page_view,signup",
        ):
            r = c.post("/funnel", json={"project": p["name"], "steps": steps})
            assert r.status_code == 400, steps
            assert r.json()["error"] == "INVALID_FUNNEL_STEPS", r.text
        r = c.post(
            "/funnel",
            json={"project": p["name"], "steps": steps_of("a", "b"), "count_by": "device"},
        )
        assert r.status_code == 400 and "user_id, session_id" in r.json()["message"]
        r = c.post(
            "/funnel",
            json={
                "project": p["name"],
                "steps": steps_of("a", "b"),
                "conversion_window_hours": 9000,
            },
        )
        assert r.status_code == 400 and "8760" in r.json()["message"]
        r = c.post(
            "/funnel",
            json={
                "project": p["name"],
                "steps": [
                    {"event": "a", "filters": [{"property": "x", "op": "like", "value": 1}]},
                    {"event": "b"},
                ],
            },
        )
        assert r.json()["error"] == "INVALID_FILTER_OP" and "contains" in r.json()["message"]


def test_step_one_is_capped_at_ten_thousand_users_and_says_so(
    any_server: RunningServer, make_server: Any
) -> None:
    # 10 005 events in a minute: the shared DuckDB server's ingest limit would refuse them
    unlimited = any_server.services.settings.ingest_rate_limit == 0
    srv = any_server if unlimited else make_server(ingest_rate_limit=0)
    start = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
    events = [
        event("visit", user=f"u{i:05d}", session=None, ts=start + timedelta(seconds=i))
        for i in range(10_005)
    ]
    # the first ten users convert, and so do the five latest, who fall outside the cap
    events += [
        event("buy", user=f"u{i:05d}", session=None, ts=start + timedelta(hours=4))
        for i in (*range(10), *range(10_000, 10_005))
    ]
    p = populated_project(srv, events)
    body = post_funnel(srv, p, steps=steps_of("visit", "buy"))
    assert [s["users"] for s in body["steps"]] == [10_000, 10]
    assert (body["users_capped"], body["users_analyzed"], body["users_total"]) == (
        True,
        10_000,
        10_005,
    )


def python_funnel(
    events: list[tuple[str, str, int]], steps: list[str], window: int
) -> tuple[list[int], list[float]]:
    """An independent funnel in plain Python: each user's level by trying every chain."""
    by_user: dict[str, list[tuple[int, str]]] = {}
    for user, name, t in events:
        by_user.setdefault(user, []).append((t, name))

    def deepest(rows: list[tuple[int, str]], t1: int, prev: int, k: int) -> int:
        if k == len(steps):
            return 0
        options = [t for t, n in rows if n == steps[k] and prev < t <= t1 + window]
        return max((1 + deepest(rows, t1, t, k + 1) for t in options), default=0)

    counts = [0] * len(steps)
    gaps: list[list[int]] = [[] for _ in steps[1:]]
    for rows in by_user.values():
        starts = sorted(t for t, n in rows if n == steps[0])
        if not starts:
            continue
        level, t1 = max((1 + deepest(rows, t, t, 1), -t) for t in starts)
        t1 = -t1
        chain = [t1]
        for step in steps[1:level]:  # along the chosen start, the earliest next step
            chain.append(min(t for t, n in rows if n == step and t > chain[-1]))
        for k in range(level):
            counts[k] += 1
        for k, (a, b) in enumerate(pairwise(chain)):
            gaps[k].append(b - a)
    return counts, [sum(g) / len(g) if g else 0.0 for g in gaps]


def test_funnel_matches_an_independent_python_computation(any_server: RunningServer) -> None:
    rng = random.Random(7)
    start = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    raw = [
        (f"r{rng.randrange(40)}", rng.choice("abcx"), rng.randrange(0, 10 * 3_600_000))
        for _ in range(400)
    ]
    p = populated_project(
        any_server,
        [
            event(name, user=user, session=None, ts=start + timedelta(milliseconds=t))
            for user, name, t in raw
        ],
    )
    stamped = [(u, n, ms(start) + t) for u, n, t in raw]
    body = post_funnel(any_server, p, steps=steps_of("a", "b", "c"), conversion_window_hours=2)
    counts, gaps = python_funnel(stamped, ["a", "b", "c"], 2 * 3_600_000)
    assert [s["users"] for s in body["steps"]] == counts
    assert [s["avg_time_to_next_ms"] for s in body["steps"][:2]] == [round(g, 1) for g in gaps]
    assert native_levels(any_server, p, 2 * 3_600_000, ["a", "b", "c"]) in (None, counts)
