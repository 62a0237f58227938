"""Saved funnels (create, read, compute, update, delete), the ad hoc funnel and retention."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunningServer
from tests.factories import event, ms, pageview
from tests.helpers import populated_project
from tests.mcp.conftest import call, call_error, connect

pytestmark = pytest.mark.anyio

DAY = "2026-11-02"
SINCE, UNTIL = ms(f"{DAY}T00:00:00"), ms("2026-11-03T00:00:00")
STEPS = [
    {"kind": "pageview", "match": "/"},
    {"kind": "event", "match": "signup", "label": "Signed up"},
    {"kind": "event", "match": "purchase"},
]


@pytest.fixture
def store(server: RunningServer) -> dict[str, Any]:
    """u1: / → signup (+10 min) → purchase (+30 min); u2: / → signup (+20 min); u3: / only."""
    p = populated_project(
        server,
        [
            pageview("/", user="u1", ts=f"{DAY}T09:00:00"),
            event("signup", user="u1", ts=f"{DAY}T09:10:00"),
            event("purchase", user="u1", ts=f"{DAY}T09:40:00"),
            pageview("/", user="u2", ts=f"{DAY}T10:00:00"),
            event("signup", user="u2", ts=f"{DAY}T10:20:00"),
            pageview("/", user="u3", ts=f"{DAY}T11:00:00"),
        ],
    )
    return p


async def test_a_saved_funnel_from_creation_to_deletion(
    server: RunningServer, store: dict[str, Any]
) -> None:
    name = store["name"]
    async with connect(server.url, server.owner_key) as c:
        made = await call(c, "create_funnel", project=name, name="Checkout", steps=STEPS)
        fid = made["id"]
        assert made["conversion_window_ms"] == 7 * 86_400_000
        assert made["steps"][1] == {"kind": "event", "match": "signup", "label": "Signed up"}
        listed = await call(c, "list_funnels", project=name)
        assert [f["id"] for f in listed["funnels"]] == [fid]
        got = await call(c, "get_funnel", project=store["id"], funnelId=fid)
        assert got["name"] == "Checkout" and got["project"] == name

        computed = await call(
            c, "compute_funnel", project=name, funnelId=fid, since=SINCE, until=UNTIL
        )
        steps = computed["results"]["steps"]
        assert [s["users"] for s in steps] == [3, 2, 1]
        assert [s["conversion_rate"] for s in steps] == [1.0, 0.6667, 0.5]
        assert [s["conversion_from_start"] for s in steps] == [1.0, 0.6667, 0.3333]
        assert steps[0]["avg_time_to_next_ms"] == 15 * 60_000  # (10 + 20) / 2 minutes
        assert computed["results"]["avg_time_to_convert_ms"] == 40 * 60_000

        changed = await call(
            c,
            "update_funnel",
            project=name,
            funnelId=fid,
            name="Checkout v2",
            conversionWindowMs=15 * 60_000,
        )
        assert (changed["name"], changed["conversion_window_ms"]) == ("Checkout v2", 900_000)
        assert changed["steps"] == made["steps"], "only what is given changes"
        narrow = await call(
            c, "compute_funnel", project=name, funnelId=fid, since=SINCE, until=UNTIL
        )
        assert [s["users"] for s in narrow["results"]["steps"]] == [3, 1, 0]

        gone = await call(c, "delete_funnel", project=name, funnelId=fid)
        assert gone["ok"] is True and gone["deletedAt"] > 0
        assert (await call(c, "list_funnels", project=name))["funnels"] == []
        missing = await call_error(c, "get_funnel", project=name, funnelId=fid)
        assert "NOT_FOUND" in missing and "list_funnels" in missing


async def test_bad_funnel_definitions_are_tool_errors_that_say_what_to_fix(
    server: RunningServer, store: dict[str, Any]
) -> None:
    name = store["name"]
    async with connect(server.url, server.owner_key) as c:
        one = await call_error(c, "create_funnel", project=name, name="x", steps=STEPS[:1])
        kind = await call_error(
            c,
            "create_funnel",
            project=name,
            name="x",
            steps=[{"kind": "click", "match": "a"}, STEPS[0]],
        )
        window = await call_error(
            c, "create_funnel", project=name, name="x", steps=STEPS, conversionWindowMs=1000
        )
        star = await call_error(
            c,
            "create_funnel",
            project=name,
            name="x",
            steps=[{"kind": "pageview", "match": "/a*b"}, STEPS[1]],
        )
    assert "steps" in one and "2" in one
    assert "kind" in kind and "pageview" in kind
    assert "INVALID_PARAMETER" in window and "1 minute" in window
    assert "INVALID_FUNNEL_STEPS" in star and "'*'" in star


async def test_an_ad_hoc_funnel_and_retention(server: RunningServer, store: dict[str, Any]) -> None:
    async with connect(server.url, server.owner_key) as c:
        adhoc = await call(
            c,
            "funnel",
            project=store["name"],
            steps=[{"event": "page_view"}, {"event": "signup"}],
            since=DAY,
            until=DAY,
        )
        cohorts = await call(
            c, "retention", project=store["name"], period="day", cohorts=1, until=DAY
        )
        bad = await call_error(c, "funnel", project=store["name"], steps=[{"event": "x"}])
    assert [s["users"] for s in adhoc["steps"]] == [3, 2]
    assert adhoc["overall_conversion_rate"] == round(2 / 3, 4)
    assert cohorts["cohorts"] == [{"date": DAY, "users": 3, "retained": [3], "rates": [1.0]}]
    assert "INVALID_FUNNEL_STEPS" in bad
