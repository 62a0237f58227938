"""The Agent Analytics read endpoints' answers, each composed from query-model queries."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from agentlytics.model.project import Project
from agentlytics.query import properties as summaries
from agentlytics.query import users
from agentlytics.query.build import Scope
from agentlytics.query.engine import QueryEngine
from agentlytics.query.model import MAX_LIMIT, Filter
from agentlytics.query.period import Period

STATS_GROUPS = ("hour", "day", "week", "month")
#: the session metrics /stats reports
_SESSIONS = ("session_count", "bounce_rate", "avg_duration", "pageviews")


def _ratio(a: Any, b: Any) -> float:
    return round(float(a or 0) / float(b), 4) if b else 0.0


def stats(engine: QueryEngine, project: Project, period: Period, group_by: str) -> dict[str, Any]:
    # the users are the period's users, counted once (``activity``): the sessions' statement
    # then needs no user resolution of every stored session (about a third of its time).
    # Side by side when nothing else is running (``QueryEngine.together``).
    (totals, series, events, truncated), sessions = engine.together(
        partial(activity, engine, project, period, group_by),
        partial(engine.one, project, period, list(_SESSIONS)),
    )
    return {
        "project": project.name,
        "period": {**period.as_json(), "groupBy": group_by},
        "totals": totals,
        "timeSeries": series,
        "events": events,
        "sessions": {
            "total_sessions": sessions["session_count"] or 0,
            "bounce_rate": sessions["bounce_rate"] or 0,
            "avg_duration": sessions["avg_duration"] or 0,
            "pages_per_session": _ratio(sessions["pageviews"], sessions["session_count"]),
            "sessions_per_user": _ratio(sessions["session_count"], totals["unique_users"]),
        },
        "truncated": truncated,
    }


def activity(
    engine: QueryEngine, project: Project, period: Period, unit: str
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], bool]:
    """Totals, the time series and the per-event counts of /stats, from one scan.

    Events are first reduced to one row per (bucket, event name, user) with a count; the
    three exact answers (distinct users and events overall, per bucket, per event name) are
    then aggregations of that much smaller relation. Returns (totals, series, events,
    truncated), the series and events lists capped at ``MAX_LIMIT`` rows as ``/query`` caps
    them (the first buckets; the most frequent events).
    """
    scope = engine.scope(project, period)
    hours = users.usable(scope)
    names = None
    if hours is not None and scope.user_range and scope.rollup_dims is not None:
        probe = engine.scope(project, period)
        names = engine.fetch(probe, users.names_sql(probe, hours))[0]["names"]
    rows = engine.fetch(scope, activity_sql(scope, unit, names))
    totals = {"unique_users": 0, "total_events": 0}
    series, events = [], []
    for r in rows:
        if r["part"] == 0:
            totals = {"unique_users": r["users"] or 0, "total_events": r["n"] or 0}
        elif r["part"] == 1:
            series.append(
                {"bucket": r["bucket"], "unique_users": r["users"], "total_events": r["n"]}
            )
        else:
            events.append({"event": r["name"], "count": r["n"], "unique_users": r["users"]})
    series.sort(key=lambda x: x["bucket"])
    events.sort(key=lambda x: (-x["count"], x["event"]))
    truncated = len(series) > MAX_LIMIT or len(events) > MAX_LIMIT
    return totals, series[:MAX_LIMIT], events[:MAX_LIMIT], truncated


#: event names the partial hours at a period's edges may add to those of its whole hours
_EDGE_NAMES = 8


def activity_sql(scope: Scope, unit: str, names: int | None = None) -> str:
    """The one statement of ``activity``: rows (part 0: totals, 1: per bucket, 2: per event
    name) with ``users`` and ``n`` events. ``names``: how many event names the period has
    (about), when known: with few enough, one bitmap per (bucket, name) pair serves all
    three parts (``users.activity_sql``)."""
    F = scope.dialect
    hours = users.usable(scope)
    pairs = users.buckets(scope, unit) * (names + _EDGE_NAMES) if names is not None else 0
    if hours is not None and pairs and users.fits(scope, pairs):
        return users.activity_sql(scope, hours, F.trunc(unit, "lts"), F.format_bucket(unit, "b"))
    if hours is not None:  # from the hourly users (``query/users.py``)
        reduced = users.reduced(scope, hours, F.trunc(unit, "lts"))
        groups = 1 + users.buckets(scope, unit) + users.NAME_GROUPS
        distinct = users.distinct_sql(scope, groups)
    else:
        reduced, user = scope.reduced_base([(F.trunc(unit, "lts"), "b"), ("name", "name")])
        distinct = F.count_distinct(user)
    return (
        f"WITH {reduced}\n"
        f"SELECT 0 AS part, NULL AS bucket, NULL AS name, {distinct} AS users, sum(n) AS n FROM k\n"
        f"UNION ALL SELECT 1, {F.format_bucket(unit, 'b')}, NULL, {distinct}, sum(n)\n"
        "  FROM k GROUP BY b\n"
        f"UNION ALL SELECT 2, NULL, name, {distinct}, sum(n) FROM k GROUP BY name"
    )


def events_log(
    engine: QueryEngine,
    project: Project,
    period: Period,
    *,
    event: str | None,
    session_id: str | None,
    user_id: str | None = None,
    limit: int,
) -> dict[str, Any]:
    filters = []
    if event:
        filters.append(Filter("event", "eq", event))
    if session_id:
        filters.append(Filter("session_id", "eq", session_id))
    if user_id:
        filters.append(Filter("user_id", "eq", user_id))
    scope = engine.scope(project, period, filters)
    F = engine.dialect
    sql = (
        f"WITH {scope.base_cte(newest=int(limit) + 1)}\n"
        "SELECT event_id, project_id, name, properties, user_id, anonymous_id, uid, session_id, "
        f"{F.epoch_ms('timestamp')} AS ts, {F.format_bucket('day', 'lts')} AS day, country, "
        "user_email, user_name, path, source\n"
        f"FROM base ORDER BY timestamp DESC, event_id LIMIT {int(limit) + 1}"
    )
    rows = engine.fetch(scope, sql)
    return {
        "project": project.name,
        "events": [
            {
                "id": r["event_id"],
                "project_id": r["project_id"],
                "event": r["name"],
                "properties": json.loads(r["properties"] or "{}"),
                "user_id": r["user_id"] or r["anonymous_id"],
                "resolved_user_id": r["uid"],
                "session_id": r["session_id"],
                "timestamp": r["ts"],
                "date": r["day"],
                "country": r["country"],
                "user_email": r["user_email"],
                "user_name": r["user_name"],
                "path": r["path"],
                "source": r["source"],
            }
            for r in rows[:limit]
        ],
        "truncated": len(rows) > limit,
    }


def properties(engine: QueryEngine, project: Project, period: Period) -> dict[str, Any]:
    scope = engine.scope(project, period)
    events = engine.fetch(scope, event_names_sql(scope))
    keys = property_keys(engine, project, period, sample=5000)
    all_keys = sorted({k for ks in keys.values() for k in ks})
    return {
        "project": project.name,
        "events": [
            {
                "event": r["name"],
                "count": r["n"],
                "unique_users": r["users"],
                "first_seen": r["first_seen"],
                "last_seen": r["last_seen"],
            }
            for r in events
        ],
        "property_keys": all_keys,
    }


def event_names_sql(scope: Scope) -> str:
    """Per event name: ``n`` events, distinct ``users``, ``first_seen`` and ``last_seen``
    (ms), the most frequent first."""
    F = scope.dialect
    hours = users.usable(scope)
    if hours is None:
        reduced, user = scope.reduced_base(
            [("name", "name")], "min(timestamp) AS lo, max(timestamp) AS hi"
        )
        return (
            f"WITH {reduced}\n"
            f"SELECT name, sum(n) AS n, {F.count_distinct(user)} AS users, "
            f"{F.epoch_ms('min(lo)')} AS first_seen, {F.epoch_ms('max(hi)')} AS last_seen\n"
            "FROM k GROUP BY name ORDER BY n DESC, name"
        )
    # events and users from the hourly users (``query/users.py``); the times, which no
    # summary holds, from the events' two cheapest columns (~70 ms for 30 days at 10M)
    p, period = scope.param, scope.period
    return (
        f"WITH {users.base_cte(scope, hours)},\n"
        f"t AS (\n  SELECT name, {F.epoch_ms('min(timestamp)')} AS first_seen, "
        f"{F.epoch_ms('max(timestamp)')} AS last_seen FROM events\n"
        f"  WHERE project_id = {p(scope.project_id)} AND timestamp >= {p(period.start_param)} "
        f"AND timestamp < {p(period.end_param)} GROUP BY name\n)\n"
        f"SELECT c.*, t.first_seen, t.last_seen FROM (\n"
        f"  SELECT name, sum(n) AS n, {users.distinct_sql(scope, users.NAME_GROUPS)} AS users "
        "FROM base GROUP BY name\n"
        ") AS c JOIN t USING (name) ORDER BY n DESC, name"
    )


def property_keys(
    engine: QueryEngine, project: Project, period: Period, *, sample: int
) -> dict[str, list[str]]:
    """Property keys seen per event name: all of the period's, from the store's summary
    (``query/properties.py``), or else those of the newest ``sample`` events."""
    scope = engine.scope(project, period)
    sql = summaries.keys_sql(scope)
    if sql is not None:
        found: dict[str, list[str]] = {}
        for row in engine.fetch(scope, sql):
            found.setdefault(row["name"], []).append(row["key"])
        return found
    sql = (
        f"WITH {scope.base_cte(newest=int(sample))}\n"
        f"SELECT name, properties FROM base ORDER BY timestamp DESC, event_id LIMIT {int(sample)}"
    )
    seen: dict[str, set[str]] = {}
    for row in engine.fetch(scope, sql):
        try:
            props = json.loads(row["properties"] or "{}")
        except ValueError:
            continue
        if isinstance(props, dict):
            seen.setdefault(row["name"], set()).update(props)
    return {name: sorted(keys) for name, keys in sorted(seen.items())}
