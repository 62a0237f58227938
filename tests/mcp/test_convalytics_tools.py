"""The Convalytics read tools over data written through the ingest path, checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from tests.conftest import RunningServer
from tests.factories import event, ms, pageview, populate
from tests.mcp.conftest import call, call_error, connect

pytestmark = pytest.mark.anyio

DAY = "2026-11-02"
SINCE, UNTIL = ms(f"{DAY}T00:00:00"), ms("2026-11-03T00:00:00")
SITE = "https://shop.example"


def page(path: str, user: str | None, at: str, referrer: str | None = None, **kw: Any) -> Any:
    props = {"url": SITE + path, **({"referrer": referrer} if referrer else {})}
    return pageview(path, user=user, ts=f"{DAY}T{at}", **props, **kw)


@pytest.fixture
def shop(server: RunningServer) -> dict[str, Any]:
    """On DAY (UTC):
    anon-9 (no user id): /landing at 08:50, no referrer; later identified as u1;
    u1 (Ann, ann@example.com on her signup): / from Hacker News at 09:00, /pricing from the
      site itself at 09:05, signup plan=pro at 09:06;
    u2: / from www.google.com at 10:00, /docs with no referrer at 10:01;
    u3: / with no referrer at 11:00, purchase amount=20 at 11:01 and amount=30 at 11:02.
    """
    p = server.new_project()
    anon = page("/landing", None, "08:50:00", session="s0")
    signup = event("signup", user="u1", ts=f"{DAY}T09:06:00", plan="pro")
    populate(
        server.url,
        p["project_token"],
        [
            {**anon, "anonymous_id": "anon-9"},
            page("/", "u1", "09:00:00", "https://news.ycombinator.com/item?id=1"),
            page("/pricing", "u1", "09:05:00", SITE + "/"),
            {**signup, "user_email": "Ann@Example.com", "user_name": "Ann"},
            page("/", "u2", "10:00:00", "https://www.google.com/search", session="s2"),
            page("/docs", "u2", "10:01:00", session="s2"),
            page("/", "u3", "11:00:00", session="s3"),
            event("purchase", user="u3", session="s3", ts=f"{DAY}T11:01:00", amount=20),
            event("purchase", user="u3", session="s3", ts=f"{DAY}T11:02:00", amount=30),
        ],
    )
    r = httpx.post(
        server.url + "/identify",
        json={"token": p["project_token"], "previous_id": "anon-9", "user_id": "u1"},
    )
    assert r.status_code == 202, r.text
    return p


async def test_top_pages_counts_views_and_visitors(
    server: RunningServer, shop: dict[str, Any]
) -> None:
    async with connect(server.url, server.owner_key) as c:
        body = await call(c, "top_pages", project=shop["name"], since=SINCE, until=UNTIL)
        two = await call(c, "top_pages", project=shop["id"], since=SINCE, until=UNTIL, limit=2)
        too_many = await call_error(c, "top_pages", project=shop["name"], limit=51)
    assert body["pages"] == [
        {"path": "/", "views": 3, "visitors": 3},
        {"path": "/docs", "views": 1, "visitors": 1},
        {"path": "/landing", "views": 1, "visitors": 1},
        {"path": "/pricing", "views": 1, "visitors": 1},
    ]
    assert (body["since"], body["until"], body["truncated"]) == (SINCE, UNTIL, False)
    assert [p["path"] for p in two["pages"]] == ["/", "/docs"] and two["truncated"] is True
    assert "limit" in too_many and "50" in too_many


async def test_the_default_period_is_the_last_seven_days(
    server: RunningServer, shop: dict[str, Any]
) -> None:
    async with connect(server.url, server.owner_key) as c:
        body = await call(c, "pageviews_count", project=shop["name"])
    now = int(datetime.now(UTC).timestamp() * 1000)
    assert abs(body["until"] - now) < 60_000
    assert body["until"] - body["since"] == 7 * 86_400_000


async def test_top_referrers_has_direct_and_leaves_out_internal_clicks(
    server: RunningServer, shop: dict[str, Any]
) -> None:
    async with connect(server.url, server.owner_key) as c:
        body = await call(c, "top_referrers", project=shop["name"], since=SINCE, until=UNTIL)
    assert body["referrers"] == [
        {"referrer": "(direct)", "views": 3, "visitors": 3},
        {"referrer": "google.com", "views": 1, "visitors": 1},
        {"referrer": "news.ycombinator.com", "views": 1, "visitors": 1},
    ]


async def test_counts_of_page_views_and_custom_events(
    server: RunningServer, shop: dict[str, Any]
) -> None:
    span = {"project": shop["name"], "since": SINCE, "until": UNTIL}
    async with connect(server.url, server.owner_key) as c:
        views = await call(c, "pageviews_count", **span)
        custom = await call(c, "events_count", **span)
        purchases = await call(c, "events_count", name="purchase", **span)
        anns = await call(c, "pageviews_count", user="ann@example.com", **span)
    assert (views["pageviews"], views["visitors"]) == (6, 3)
    assert (custom["count"], custom["users"], custom["truncated"]) == (3, 2, False)
    assert (purchases["count"], purchases["users"], purchases["name"]) == (2, 1, "purchase")
    assert (anns["pageviews"], anns["visitors"]) == (3, 1), "anon-9's view is Ann's"


async def test_the_environment_header_narrows_every_tool_to_one_environment(
    server: RunningServer,
) -> None:
    p = server.new_project()
    dev, prod = {"page_origin": "http://localhost:5173"}, {"page_origin": SITE}
    populate(
        server.url,
        p["project_token"],
        [
            {**page("/", "u1", "09:00:00", session="p1"), **prod},
            {**page("/docs", "u2", "09:01:00", session="p2"), **prod},
            {**page("/", "dev", "09:02:00", session="d1"), **dev},
            {**event("signup", user="dev", session="d1", ts=f"{DAY}T09:03:00"), **dev},
        ],
    )
    span = {"project": p["id"], "since": SINCE, "until": UNTIL}
    answers = {}
    for env in (None, "production", "Development"):
        extra = {"x-convalytics-environment": env} if env else None
        async with connect(server.url, server.owner_key, extra=extra) as c:
            views = await call(c, "pageviews_count", **span)
            custom = await call(c, "events_count", **span)
            pages = await call(c, "top_pages", **span)
            # statements run side by side (QueryEngine.together): each sees the filter
            trend = await call(c, "insights", project=p["id"], period="90d")
        answers[env] = (
            views["pageviews"],
            custom["count"],
            [(x["path"], x["views"]) for x in pages["pages"]],
            (
                trend["metrics"]["total_events"]["current"],
                trend["metrics"]["total_sessions"]["current"],
            ),
        )
    assert answers == {
        None: (3, 1, [("/", 2), ("/docs", 1)], (4, 3)),
        "production": (2, 0, [("/", 1), ("/docs", 1)], (2, 2)),
        "Development": (1, 1, [("/", 1)], (2, 1)),
    }
    bad = {"x-convalytics-environment": "staging"}
    async with connect(server.url, server.owner_key, extra=bad) as c:
        with pytest.raises(MCPError, match="production, development"):
            await c.call_tool("pageviews_count", span)


async def test_recent_events_are_redacted_unless_asked(
    server: RunningServer, shop: dict[str, Any]
) -> None:
    span = {"project": shop["name"], "since": SINCE, "until": UNTIL}
    async with connect(server.url, server.owner_key) as c:
        redacted = await call(c, "recent_events", **span)
        clear = await call(c, "recent_events", redact=False, limit=3, **span)
        one = await call(c, "recent_events", limit=1, **span)
    names = [(e["name"], e["timestamp"]) for e in redacted["events"]]
    assert names == [
        ("purchase", ms(f"{DAY}T11:02:00")),
        ("purchase", ms(f"{DAY}T11:01:00")),
        ("signup", ms(f"{DAY}T09:06:00")),
    ]
    assert all(e["userEmail"] is None and e["userName"] is None for e in redacted["events"])
    assert all(e["props"] == {} for e in redacted["events"])
    signup = clear["events"][2]
    assert (signup["userEmail"], signup["userName"], signup["userId"]) == (
        "Ann@Example.com",
        "Ann",
        "u1",
    )
    assert signup["props"] == {"plan": "pro"}
    assert clear["events"][0]["props"] == {"amount": 30}
    assert one["truncated"] is True and len(one["events"]) == 1


@pytest.mark.parametrize("who", ["ann@example.com", "ANN@example.COM", "anon-9", "u1"])
async def test_user_activity_matches_an_email_or_a_visitor_id(
    server: RunningServer, shop: dict[str, Any], who: str
) -> None:
    async with connect(server.url, server.owner_key) as c:
        body = await call(
            c, "user_activity", project=shop["name"], user=who, since=SINCE, until=UNTIL
        )
    assert body["found"] is True
    assert body["identity"] == {
        "userIds": ["u1"],
        "userEmail": "Ann@Example.com",
        "userName": "Ann",
        "firstSeen": ms(f"{DAY}T08:50:00"),
        "lastSeen": ms(f"{DAY}T09:06:00"),
    }
    assert body["counts"] == {"pageviews": 3, "events": 1, "sessions": 2}
    assert [p["path"] for p in body["topPages"]] == ["/", "/landing", "/pricing"]
    assert body["topEvents"] == [{"name": "signup", "count": 1, "users": 1}]
    assert [e["name"] for e in body["recentEvents"]] == [
        "signup",
        "page_view",
        "page_view",
        "page_view",
    ]
    assert body["recentEvents"][0]["userEmail"] == "Ann@Example.com"


async def test_user_activity_of_nobody_is_empty_and_user_is_required(
    server: RunningServer, shop: dict[str, Any]
) -> None:
    async with connect(server.url, server.owner_key) as c:
        body = await call(c, "user_activity", project=shop["name"], user="nobody@example.com")
        missing = await call_error(c, "user_activity", project=shop["name"])
    assert body["found"] is False and body["counts"] == {"pageviews": 0, "events": 0, "sessions": 0}
    assert body["identity"]["userIds"] == [] and body["recentEvents"] == []
    assert "user" in missing and "required" in missing.lower()


async def test_weekly_digest_compares_with_the_week_before(server: RunningServer) -> None:
    """Last 7 days: u1 views / and /a then signs up 2 days ago (one 6-minute session); u2
    views / 20 hours ago (a bounce). The 7 days before: u3 views / (a bounce)."""
    p = server.new_project()
    now = datetime.now(UTC).replace(microsecond=0)
    two_days = now - timedelta(days=2)
    populate(
        server.url,
        p["project_token"],
        [
            pageview("/", user="u1", session="s1", ts=two_days),
            pageview("/a", user="u1", session="s1", ts=two_days + timedelta(minutes=5)),
            event("signup", user="u1", session="s1", ts=two_days + timedelta(minutes=6)),
            pageview("/", user="u2", session="s2", ts=now - timedelta(hours=20)),
            pageview("/", user="u3", session="s3", ts=now - timedelta(days=9)),
        ],
    )
    async with connect(server.url, server.owner_key) as c:
        body = await call(c, "weekly_digest", project=p["name"])
        alone = await call(c, "weekly_digest", project=p["name"], days=1, compare=False)
        refused = await call_error(c, "weekly_digest", project=p["name"], days=91)
    assert body["days"] == 7
    assert {k: body[k] for k in ("visitors", "pageviews", "sessions", "eventTotal")} == {
        "visitors": 2,
        "pageviews": 3,
        "sessions": 2,
        "eventTotal": 1,
    }
    assert body["bounceRate"] == 0.5 and body["avgSessionDuration"] == 180
    assert body["topPages"] == [
        {"path": "/", "views": 2, "visitors": 2},
        {"path": "/a", "views": 1, "visitors": 1},
    ]
    assert body["topReferrers"] == [{"referrer": "(direct)", "views": 3, "visitors": 2}]
    assert body["topEvents"] == [{"name": "signup", "count": 1, "users": 1}]
    d = body["deltas"]
    assert d["visitors"] == {"previous": 1, "change": 1, "changePct": 100.0}
    assert d["pageviews"] == {"previous": 1, "change": 2, "changePct": 200.0}
    assert d["bounceRate"] == {"previous": 1, "change": -0.5, "changePct": -50.0}
    assert d["eventTotal"] == {"previous": 0, "change": 1, "changePct": None}
    assert "deltas" not in alone and alone["pageviews"] == 1
    assert "days" in refused


async def test_list_projects_and_usage_this_month(make_server: Any) -> None:
    srv = make_server()
    p = srv.new_project("usage-site")
    now = datetime.now(UTC)
    populate(
        srv.url,
        p["project_token"],
        [pageview("/", ts=now), pageview("/b", ts=now), event("signup", ts=now)],
    )
    async with connect(srv.url, srv.owner_key) as c:
        listed = await call(c, "list_projects")
        usage = await call(c, "get_usage")
    assert listed["projects"] == [
        {
            "id": p["id"],
            "name": "usage-site",
            "writeKey": p["project_token"],
            "timezone": "UTC",
            "allowedOrigins": "*",
            "siteUrl": None,
            "createdAt": listed["projects"][0]["createdAt"],
        }
    ]
    assert usage["projects"] == [
        {"project": "usage-site", "id": p["id"], "events": 1, "pageviews": 2}
    ]
    assert (usage["events"], usage["pageviews"], usage["plan"]) == (1, 2, "self-hosted")
    assert usage["eventsLimitPerProject"] is None
