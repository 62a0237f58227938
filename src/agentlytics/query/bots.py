"""``GET /bot-traffic``: automated traffic that ingest dropped, from the ``bot_hits`` table.

Ingest keeps one ``bot_hits`` row (project, time, category, actor, event name) per browser
event it drops as automated; no IP and no other field. So both ``automated_requests`` and
``dropped_events`` count those rows: which dropped events arrived in the same HTTP request
is not recorded, and the hosted API's distinction (requests vs the events inside them)
cannot be made from what we keep. Days in ``time_series`` are in the project's time zone
and zero-filled over the period.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agentlytics.model.project import Project
from agentlytics.query.build import Scope
from agentlytics.query.engine import QueryEngine
from agentlytics.query.period import Period

#: the contract's closed list of categories (``ingest.bots`` classifies into these)
CATEGORIES = ("ai_agent", "search_crawler", "social_preview", "monitoring_perf")


def _where(scope: Scope) -> str:
    return (
        f"project_id = {scope.param(scope.project_id)} "
        f"AND timestamp >= {scope.param(scope.period.start_param)} "
        f"AND timestamp < {scope.param(scope.period.end_param)}"
    )


def actors_sql(scope: Scope) -> str:
    """Hits per (category, actor), most first; small (one row per bot seen)."""
    return (
        f"SELECT category, actor, count(*) AS hits\nFROM bot_hits WHERE {_where(scope)}\n"
        "GROUP BY category, actor ORDER BY hits DESC, actor, category"
    )


def series_sql(scope: Scope) -> str:
    """Hits per day in the period's time zone."""
    F = scope.dialect
    day = F.format_bucket("day", F.local_time("timestamp", scope.period.tz))
    return (
        f"SELECT {day} AS d, count(*) AS hits\nFROM bot_hits WHERE {_where(scope)}\n"
        "GROUP BY d ORDER BY d"
    )


def _days(period: Period) -> list[str]:
    zone = ZoneInfo(period.tz)
    day = period.start.astimezone(zone).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(zone).date()
    days = []
    while day <= last:
        days.append(day.isoformat())
        day += timedelta(days=1)
    return days


def bot_traffic(
    engine: QueryEngine, project: Project, period: Period, *, limit: int
) -> dict[str, Any]:
    """Totals, per-category counts, the top ``limit`` actors and a daily series."""
    scope = engine.scope(project, period)
    actors = engine.fetch(scope, actors_sql(scope))
    scope = engine.scope(project, period)
    per_day = {r["d"]: r["hits"] for r in engine.fetch(scope, series_sql(scope))}
    categories = dict.fromkeys(CATEGORIES, 0)
    for r in actors:
        categories[r["category"]] = categories.get(r["category"], 0) + r["hits"]
    total = sum(r["hits"] for r in actors)
    return {
        "project": project.name,
        "period": period.as_json(),
        "automated_requests": total,
        "dropped_events": total,
        "categories": categories,
        "actors": [
            {"actor": r["actor"], "category": r["category"], "count": r["hits"]}
            for r in actors[:limit]
        ],
        "time_series": [{"date": d, "count": per_day.get(d, 0)} for d in _days(period)],
        "truncated": len(actors) > limit,
    }
