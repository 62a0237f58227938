"""GET /bot-traffic: browser events with bot user agents, sent through the real ingest path."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agentlytics.ingest.bots import BOT_CATEGORIES
from agentlytics.query.bots import CATEGORIES
from tests.conftest import RunningServer
from tests.factories import CHROME_UA, pageview

UAS = {
    "GPTBot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)",
    "ChatGPT-User": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; "
    "ChatGPT-User/1.0; +https://openai.com/bot",
    "Googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "facebookexternalhit": "facebookexternalhit/1.1 "
    "(+http://www.facebook.com/externalhit_uatext.php)",
    "UptimeRobot": "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "person": CHROME_UA,
}


def send(server: RunningServer, token: str, ua: str, *events: dict[str, Any]) -> int:
    """One browser request (it has an Origin) carrying ``events``; the count stored."""
    r = httpx.post(
        server.url + "/track/batch",
        json={"token": token, "events": list(events)},
        headers={"User-Agent": ua, "Origin": "https://shop.example"},
    )
    assert r.status_code == 202, r.text
    return int(r.json()["count"])


def get(server: RunningServer, path: str, **params: Any) -> dict[str, Any]:
    with server.client() as c:
        r = c.get(path, params=params)
        assert r.status_code == 200, r.text
        return dict(r.json())


def test_bot_traffic_counts_dropped_events_by_category_actor_and_day(
    server: RunningServer,
) -> None:
    p = server.new_project()
    token = p["project_token"]
    # GPTBot: one request with two events; then one event each from four other bots
    send(
        server,
        token,
        UAS["GPTBot"],
        pageview("/", ts="2026-11-02T10:00:00"),
        pageview("/a", ts="2026-11-02T10:01:00"),
    )
    send(server, token, UAS["ChatGPT-User"], pageview("/", ts="2026-11-02T11:00:00"))
    send(server, token, UAS["Googlebot"], pageview("/", ts="2026-11-03T00:30:00"))
    send(server, token, UAS["facebookexternalhit"], pageview("/", ts="2026-11-03T12:00:00"))
    for minute in range(3):
        send(server, token, UAS["UptimeRobot"], pageview("/", ts=f"2026-11-04T08:0{minute}:00"))
    # a person's page view is stored; so is a server-side event (no Origin), whatever its UA
    assert send(server, token, UAS["person"], pageview("/", ts="2026-11-02T12:00:00")) == 1
    r = httpx.post(
        server.url + "/track",
        json={"token": token, "event": "signup", "timestamp": "2026-11-02T12:00:00Z"},
        headers={"User-Agent": UAS["GPTBot"]},
    )
    assert r.status_code == 202

    body = get(server, "/bot-traffic", project=p["name"], since="2026-11-01", until="2026-11-04")
    assert (body["automated_requests"], body["dropped_events"]) == (8, 8)
    assert body["categories"] == {
        "ai_agent": 3,
        "search_crawler": 1,
        "social_preview": 1,
        "monitoring_perf": 3,
    }
    assert body["actors"] == [
        {"actor": "UptimeRobot", "category": "monitoring_perf", "count": 3},
        {"actor": "GPTBot", "category": "ai_agent", "count": 2},
        {"actor": "ChatGPT-User", "category": "ai_agent", "count": 1},
        {"actor": "Googlebot", "category": "search_crawler", "count": 1},
        {"actor": "facebookexternalhit", "category": "social_preview", "count": 1},
    ]
    assert body["time_series"] == [
        {"date": "2026-11-01", "count": 0},
        {"date": "2026-11-02", "count": 3},
        {"date": "2026-11-03", "count": 2},
        {"date": "2026-11-04", "count": 3},
    ]
    assert body["truncated"] is False
    top = get(server, "/bot-traffic", project=p["name"], since="2026-11-01", limit=2)
    assert [a["actor"] for a in top["actors"]] == ["UptimeRobot", "GPTBot"]
    assert top["truncated"] is True
    # bots never reach the analytics: only the person's page view and the server event
    stats = get(server, "/stats", project=p["name"], since="2026-11-01", until="2026-11-04")
    assert stats["totals"]["total_events"] == 2


def test_bot_traffic_days_follow_the_project_time_zone(server: RunningServer) -> None:
    p = server.new_project(timezone="Asia/Tokyo")
    # 20:00 UTC on Nov 2 is 05:00 on Nov 3 in Tokyo
    send(server, p["project_token"], UAS["GPTBot"], pageview("/", ts="2026-11-02T20:00:00"))
    body = get(server, "/bot-traffic", project=p["name"], since="2026-11-03", until="2026-11-03")
    assert body["time_series"] == [{"date": "2026-11-03", "count": 1}]


def test_bot_traffic_of_a_quiet_project_is_all_zeros(server: RunningServer) -> None:
    p = server.new_project()
    body = get(server, "/bot-traffic", project=p["name"], period="7d")
    assert body["automated_requests"] == 0
    assert body["categories"] == dict.fromkeys(BOT_CATEGORIES, 0)
    assert body["actors"] == []
    assert {d["count"] for d in body["time_series"]} == {0}


def test_report_categories_are_the_ones_ingest_classifies_into() -> None:
    assert CATEGORIES == BOT_CATEGORIES


def test_bot_traffic_is_scoped_to_the_keys_account(server: RunningServer) -> None:
    p = server.new_project()
    other = server.services.projects.create_account(f"oscar-{uuid.uuid4().hex[:8]}@example.com")
    _, key = server.services.projects.create_api_key(other, "o", "read")
    with server.client(key) as c:
        r = c.get("/bot-traffic", params={"project": p["id"]})
    assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND"
