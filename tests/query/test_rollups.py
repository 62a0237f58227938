"""The hourly rollup answers count queries exactly as a scan of the events does.

Events go in through the real ingest path (``POST /track/batch``). Each query is answered
twice over the same store: by the server's engine (rollups on) and by an engine that never
reads them. That happens at three moments: before the rollup holds anything (every event
in the raw tail), after the writer has counted everything received, and after more events
arrive with a ``received_at`` below the watermark (counted by the commit that stores them).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from agentlytics.model.project import Project
from agentlytics.query.build import Scope, build
from agentlytics.query.engine import QueryEngine
from agentlytics.query.model import Filter, QuerySpec
from agentlytics.query.period import Period
from tests.conftest import RunningServer
from tests.factories import event, ms
from tests.query.conftest import summary_project

START = datetime(2026, 10, 23, 5, 17, tzinfo=UTC)  # spans Paris's change on Oct 25
END = datetime(2026, 10, 27, 19, 43, tzinfo=UTC)
PATHS = ["/", "/pricing", "/docs", "/docs/install", None]
COUNTRIES = ["US", "FR", "DE", None]


def send(server: RunningServer, token: str, events: list[dict[str, Any]]) -> None:
    """In batches, each from one country (the CDN header the pipeline reads)."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for start in range(0, len(events), 50):
            country = COUNTRIES[(start // 50) % len(COUNTRIES)]
            headers = {"cf-ipcountry": country} if country else {}
            chunk = events[start : start + 50]
            r = client.post("/track/batch", json={"token": token, "events": chunk}, headers=headers)
            assert r.status_code == 202 and r.json()["count"] == len(chunk), r.text


def traffic(seed: int, n: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        at = START - timedelta(hours=3) + timedelta(minutes=rng.randrange(5 * 24 * 60 + 300))
        kind = rng.random()
        if kind < 0.2:
            ev = event("$mcp_call", user=f"agent{i % 7}", session=None, ts=at)
            ev.update(primitive_type="tool", primitive_name=rng.choice(["search", "stats"]))
            ev.update(latency_ms=12.5, success=rng.random() > 0.3)
        else:
            name = "page_view" if kind < 0.8 else rng.choice(["signup", "$scroll_depth"])
            path = rng.choice(PATHS)
            props: dict[str, Any] = {"path": path} if path else {}
            if rng.random() < 0.5:
                props["url"] = f"https://example.com{path or '/'}?utm_source=news"
                props["referrer"] = rng.choice(["https://google.com/", "https://t.co/x", ""])
            ev = event(name, user=f"u{rng.randrange(40)}", session=f"s{i % 50}", ts=at, **props)
        out.append(ev)
    return out


def specs() -> list[QuerySpec]:
    count = ["event_count"]
    return [
        QuerySpec(metrics=count),
        QuerySpec(metrics=["event_count", "pageviews"], group_by=["date"]),
        QuerySpec(metrics=count, group_by=["hour"], limit=1000),
        QuerySpec(metrics=count, group_by=["event", "date"], limit=1000),
        QuerySpec(metrics=["pageviews"], group_by=["path"]),
        QuerySpec(metrics=count, group_by=["referrer", "week"]),
        QuerySpec(metrics=count, group_by=["month", "utm_source"]),
        QuerySpec(metrics=count, group_by=["country"], filters=[Filter("country", "neq", "US")]),
        QuerySpec(metrics=count, group_by=["date"], filters=[Filter("event", "eq", "page_view")]),
        QuerySpec(
            metrics=count,
            group_by=["path"],
            filters=[Filter("event", "neq", "signup"), Filter("path", "eq", "/docs")],
        ),
        QuerySpec(metrics=["call_count", "error_count", "error_rate"], group_by=["tool"]),
        QuerySpec(metrics=["call_count", "error_rate"], group_by=["date"]),
        QuerySpec(metrics=count, group_by=["path"], order_by="path", order="asc", limit=2),
        # not for the rollup: distinct users, two dimensions, a property
        QuerySpec(metrics=["event_count", "unique_users"], group_by=["date"]),
        QuerySpec(metrics=count, group_by=["path", "country"]),
        QuerySpec(metrics=count, group_by=["properties.path"]),
    ]


PERIODS = [
    Period(START, END, "UTC"),
    Period(START, END, "Europe/Paris"),
    Period(START, END, "America/New_York"),
    Period(START, END, "Asia/Kolkata"),  # +05:30: hours do not fall into local days
    Period(START.replace(minute=0), START.replace(minute=0) + timedelta(hours=30), "UTC"),
    Period(START, START + timedelta(minutes=40), "UTC"),  # no whole hour inside
]


def compare(server: RunningServer, project: Project) -> int:
    """Every spec over every period, both ways; returns how many used the rollup."""
    rolled, scanned = server.services.query, QueryEngine(server.services.events, rollups=False)
    used = 0
    for period in PERIODS:
        for spec in specs():
            assert rolled.run(project, spec, period) == scanned.run(project, spec, period), (
                spec,
                period,
            )
            scope = rolled.scope(project, period, list(spec.filters))
            used += "rollup_hourly" in build(scope, spec)
    return used


def test_rollup_answers_equal_the_raw_scan_through_every_stage(
    unlimited_server: RunningServer,
) -> None:
    server = unlimited_server
    project, store, token = summary_project(server, "rollups")

    send(server, token, traffic(1, 600))
    assert compare(server, project) > 0  # all in the raw tail: the watermark is at 1970

    # the writer counts everything received so far (in the live server: each hour)
    now = datetime.now(UTC).replace(tzinfo=None)
    store.advance_rollup(now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
    [(rows,)] = store.query("SELECT count(*) FROM rollup_hourly").rows
    assert rows > 0
    used = compare(server, project)
    assert used >= len(PERIODS) * 8

    # received below the watermark: counted by the commit that stores them
    send(server, token, traffic(2, 300))
    assert compare(server, project) == used


def test_http_query_reads_the_rollup_with_the_same_answer(unlimited_server: RunningServer) -> None:
    server = unlimited_server
    created = server.new_project("rollups-http")
    events = traffic(3, 200)
    send(server, created["project_token"], events)
    store: Any = server.services.events
    store.advance_rollup(datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1))
    body = {
        "project": "rollups-http",
        "metrics": ["event_count", "pageviews"],
        "group_by": ["date"],
        "date_from": START.isoformat(),
        "date_to": END.isoformat(),
        "timezone": "Europe/Paris",
    }
    with server.client() as client:
        answer = client.post("/query", json=body)
    assert answer.status_code == 200, answer.text
    project = server.services.meta.get_project(created["id"])
    assert project is not None
    scanned = QueryEngine(server.services.events, rollups=False).run(
        project,
        QuerySpec(metrics=["event_count", "pageviews"], group_by=["date"]),
        Period(START, END, "Europe/Paris"),
    )
    assert answer.json()["rows"] == scanned.rows
    inside = [e for e in events if ms(START) <= e["timestamp"] < ms(END)]
    assert sum(r["event_count"] for r in scanned.rows) == len(inside) > 0


def test_the_setting_turns_rollups_off(make_server: Any) -> None:
    server: RunningServer = make_server(rollups=False)
    project = Project(id="p", account_id="a", name="p", write_key="k", created_at=0)
    scope: Scope = server.services.query.scope(project, PERIODS[0])
    assert scope.rollup_dims is None
    assert "rollup_hourly" not in build(scope, QuerySpec(metrics=["event_count"]))
