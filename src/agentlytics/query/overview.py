"""Account-wide summaries: monthly usage, every site at a glance and bot traffic across sites.
Each is a handful of query-model queries (an MCP server's usage is ``query.mcp_usage``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from agentlytics.model.project import Project
from agentlytics.query import bots
from agentlytics.query.engine import QueryEngine
from agentlytics.query.period import Period


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def usage(
    engine: QueryEngine,
    projects: Sequence[Project],
    *,
    monthly_limit: int,
    tier: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Events stored this calendar month (UTC), per project: custom events and page views."""
    end = now or datetime.now(UTC)
    start = end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    rows = []
    for p in projects:
        got = engine.one(p, Period(start, end, "UTC"), ["event_count", "pageviews"])
        views = int(got["pageviews"] or 0)
        rows.append(
            {
                "project": p.name,
                "id": p.id,
                "events": int(got["event_count"] or 0) - views,
                "pageviews": views,
            }
        )
    return {
        "plan": tier,
        "since": _ms(start),
        "until": _ms(end),
        # page views are free, as on Convalytics; the limit is per project and month
        "eventsLimitPerProject": monthly_limit or None,
        "events": sum(r["events"] for r in rows),
        "pageviews": sum(r["pageviews"] for r in rows),
        "projects": rows,
    }


def sites_overview(
    engine: QueryEngine, projects: Sequence[Project], since: str | None, until: str | None
) -> dict[str, Any]:
    """Events, users, sessions and page views per project, busiest first."""
    sites: list[dict[str, Any]] = []
    for p in projects:
        period = engine.period(p, since, until)
        got = engine.one(p, period, ["event_count", "unique_users", "session_count", "pageviews"])
        sites.append(
            {
                "project": p.name,
                "id": p.id,
                "period": period.as_json(),
                "total_events": got["event_count"] or 0,
                "unique_users": got["unique_users"] or 0,
                "sessions": got["session_count"] or 0,
                "pageviews": got["pageviews"] or 0,
            }
        )
    sites.sort(key=lambda s: (-s["total_events"], s["project"]))
    total = {k: sum(s[k] for s in sites) for k in ("total_events", "sessions", "pageviews")}
    return {"projects": sites, "totals": total}


def sites_bot_traffic(
    engine: QueryEngine, projects: Sequence[Project], since: str | None, until: str | None
) -> dict[str, Any]:
    """Automated traffic dropped at ingest, per project and in total, busiest first."""
    sites: list[dict[str, Any]] = []
    for p in projects:
        report = bots.bot_traffic(engine, p, engine.period(p, since, until), limit=5)
        sites.append(
            {
                "project": p.name,
                "id": p.id,
                "period": report["period"],
                "automated_requests": report["automated_requests"],
                "categories": report["categories"],
                "top_actors": report["actors"],
            }
        )
    sites.sort(key=lambda s: (-s["automated_requests"], s["project"]))
    categories = dict.fromkeys(bots.CATEGORIES, 0)
    for site in sites:
        for name, count in site["categories"].items():
            categories[name] = categories.get(name, 0) + count
    return {
        "projects": sites,
        "totals": {
            "automated_requests": sum(s["automated_requests"] for s in sites),
            "categories": categories,
        },
    }
