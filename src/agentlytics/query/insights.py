"""Period-over-period insights, and the day-of-week x hour heatmap.

Insights compare the last N days (a rolling window ending now) with the N days before it.
Each metric is ``{current, previous, change, change_pct}``; ``change_pct`` is null when the
previous value is 0 (there is no base to compare with). The ``trend`` follows
``total_events``, as the hosted API's does: more than +10% is ``growing``, less than -10% is
``declining``, anything between is ``stable``; from no events to some is ``growing``, and
none in either period is ``stable``.

The heatmap is in UTC, as the contract says, whatever the project's time zone: its
``since``/``until`` dates are read as UTC days too. Days are numbered 0 = Sunday to
6 = Saturday, as the hosted API numbers them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, Literal

from agentlytics.model.project import Project
from agentlytics.query import fragments, users
from agentlytics.query.build import Scope
from agentlytics.query.engine import QueryEngine
from agentlytics.query.period import Period, parse_period

INSIGHT_PERIODS = ("1d", "7d", "14d", "30d", "90d")
TREND_THRESHOLD_PCT = 10.0
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
HEATMAP_ZONE = "UTC"

Trend = Literal["growing", "stable", "declining"]

_EVENT_METRICS = {"total_events": "event_count", "unique_users": "unique_users"}
_SESSION_METRICS = {
    "total_sessions": "session_count",
    "bounce_rate": "bounce_rate",
    "avg_duration": "avg_duration",
}
#: decimals each metric is reported with
_DIGITS = {"bounce_rate": 3, "avg_duration": 1}


def _measures(
    engine: QueryEngine, current: Period, previous: Period, project: Project
) -> tuple[dict[str, float], dict[str, float]]:
    """The metrics of both periods: users are counted over events, as /stats does, the rest
    over sessions. Where the summaries can, each is one statement for both periods, which
    meet at the current one's start (``users.periods_sql``, ``fragments.sides_sql``: 10M
    events, four statements ~125 -> two ~95 ms); else one per period. All side by side."""
    both = Period(previous.start, current.end, current.tz)
    cut = current.start_param
    metrics = {"events": list(_EVENT_METRICS.values()), "sessions": list(_SESSION_METRICS.values())}
    # (a scope collects the parameters of the statement built over it: one each)
    scopes = {kind: engine.scope(project, both) for kind in metrics}
    sqls = {
        "events": users.periods_sql(scopes["events"], cut),
        "sessions": fragments.sides_sql(scopes["sessions"], metrics["sessions"], cut),
    }
    calls: list[Callable[[], Any]] = []
    for kind in ("events", "sessions"):
        sql = sqls[kind]
        if sql is not None:
            calls.append(partial(engine.fetch, scopes[kind], sql))
        else:
            calls += [partial(engine.one, project, p, metrics[kind]) for p in (current, previous)]
    answers = iter(engine.together(*calls))
    sides: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for kind in ("events", "sessions"):
        if sqls[kind] is None:
            sides[kind] = (next(answers), next(answers))
            continue
        rows = {bool(r["p"]): r for r in next(answers)}
        none = dict.fromkeys(metrics[kind], 0)
        cur, prev = (
            {m: rows[side][f"m{i}"] for i, m in enumerate(metrics[kind])} if side in rows else none
            for side in (True, False)
        )
        sides[kind] = (cur, prev)
    return (
        _measure(sides["events"][0], sides["sessions"][0]),
        _measure(sides["events"][1], sides["sessions"][1]),
    )


def _measure(events: dict[str, Any], sessions: dict[str, Any]) -> dict[str, float]:
    values = {name: events[m] for name, m in _EVENT_METRICS.items()}
    values |= {name: sessions[m] for name, m in _SESSION_METRICS.items()}
    return {name: round(float(v or 0), _DIGITS.get(name, 0)) for name, v in values.items()}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def delta(current: float, previous: float) -> dict[str, Any]:
    change = round(current - previous, 4)
    return {
        "current": _number(current),
        "previous": _number(previous),
        "change": _number(change),
        "change_pct": round(change * 100 / previous, 1) if previous else None,
    }


def trend_of(total_events: dict[str, Any]) -> Trend:
    pct = total_events["change_pct"]
    if pct is None:
        return "growing" if total_events["current"] > 0 else "stable"
    if pct > TREND_THRESHOLD_PCT:
        return "growing"
    if pct < -TREND_THRESHOLD_PCT:
        return "declining"
    return "stable"


def insights(
    engine: QueryEngine, project: Project, period_name: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """``GET /insights``: ``period_name`` is one of ``INSIGHT_PERIODS``."""
    current = parse_period(period_name, None, project.timezone, now=now)
    previous = current.previous()
    cur, prev = _measures(engine, current, previous, project)
    metrics = {name: delta(cur[name], prev[name]) for name in cur}
    return {
        "project": project.name,
        "period": period_name,
        "current_period": current.as_json(),
        "previous_period": previous.as_json(),
        "metrics": metrics,
        "trend": trend_of(metrics["total_events"]),
    }


def heatmap_period(since: str | None, until: str | None) -> Period:
    """The heatmap's range, read in UTC (default: the last 7 days)."""
    return parse_period(since, until, HEATMAP_ZONE)


def heatmap_sql(scope: Scope) -> str:
    """Events and users per (weekday, hour) of ``lts``; the scope's period must be in UTC."""
    F = scope.dialect
    hours = users.usable(scope)
    if hours is not None:  # from the hourly users (``query/users.py``)
        return (
            f"WITH {users.base_cte(scope, hours)}\n"
            f"SELECT ({F.weekday('lts')} + 1) % 7 AS d, {F.hour('lts')} AS h, "
            f"sum(n) AS events, {users.distinct_sql(scope, 7 * 24)} AS users\n"
            "FROM base GROUP BY d, h ORDER BY d, h"
        )
    return (
        f"WITH {scope.base_cte()}\n"
        f"SELECT ({F.weekday('lts')} + 1) % 7 AS d, {F.hour('lts')} AS h, count(*) AS events, "
        f"{F.count_distinct('uid')} AS users\n"
        "FROM base GROUP BY d, h ORDER BY d, h"
    )


def heatmap(engine: QueryEngine, project: Project, period: Period) -> dict[str, Any]:
    """``GET /heatmap``: non-empty cells, the peak cell, the busiest day and hour."""
    scope = engine.scope(project, period)
    rows = engine.fetch(scope, heatmap_sql(scope))
    cells = [
        {
            "day": int(r["d"]),
            "day_name": DAY_NAMES[int(r["d"])],
            "hour": int(r["h"]),
            "events": r["events"],
            "users": r["users"],
        }
        for r in rows
    ]
    by_day: dict[int, int] = {}
    by_hour: dict[int, int] = {}
    for c in cells:
        by_day[c["day"]] = by_day.get(c["day"], 0) + c["events"]
        by_hour[c["hour"]] = by_hour.get(c["hour"], 0) + c["events"]
    # ties go to the earliest cell, day and hour (max keeps the first maximum)
    peak = max(cells, key=lambda c: c["events"], default=None)
    busiest_day = max(sorted(by_day), key=by_day.__getitem__, default=None)
    busiest_hour = max(sorted(by_hour), key=by_hour.__getitem__, default=None)
    return {
        "project": project.name,
        "period": period.as_json(),
        "timezone": HEATMAP_ZONE,
        "heatmap": cells,
        "peak": dict(peak) if peak else None,
        "busiest_day": DAY_NAMES[busiest_day] if busiest_day is not None else None,
        "busiest_hour": busiest_hour,
    }
