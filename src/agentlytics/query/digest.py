"""Convalytics-style reports: top pages and referrers, counts, recent events, one user's
activity and the weekly digest (the MCP tools of contracts.md A1).

Each report reads the project's events in a period through the engine's ``base`` relation.
``user`` narrows a report to one person: it matches an e-mail (case-insensitive) or a
visitor/user id (exact), and brings in every event of each identity it matches, through
the identity map, so anonymous page views before an ``identify`` count too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from agentlytics.errors import ValidationError
from agentlytics.model.event import PAGE_VIEW
from agentlytics.model.project import Project
from agentlytics.query.build import Scope, resolved_user
from agentlytics.query.engine import QueryEngine
from agentlytics.query.model import Filter
from agentlytics.query.period import Period

DIRECT = "(direct)"
_IS_PAGE_VIEW = f"name = '{PAGE_VIEW}'"


def ms_period(
    project: Project, since: int | None, until: int | None, *, now: datetime | None = None
) -> Period:
    """``[since, until)`` in unix ms, by default the last 7 days.

    Raises:
        ValidationError: INVALID_DATE_RANGE when since is not before until.
    """
    end = _from_ms(until) if until is not None else now or datetime.now(UTC)
    start = _from_ms(since) if since is not None else end - timedelta(days=7)
    if start >= end:
        raise ValidationError(
            f"since ({_ms(start)}) must be before until ({_ms(end)}); both are unix ms",
            code="INVALID_DATE_RANGE",
        )
    return Period(start, end, project.timezone)


def span(period: Period) -> dict[str, int]:
    return {"since": _ms(period.start), "until": _ms(period.end)}


def _from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# the relation every report reads ----------------------------------------------------------


def picked(scope: Scope, user: str | None) -> str:
    """``WITH base …, picked AS (…)``: the period's events, only ``user``'s when given."""
    sql = "WITH " + scope.base_cte()
    if user is None or not user.strip():
        return sql + ",\npicked AS (SELECT * FROM base)"
    F = scope.dialect
    who = user.strip()
    sql += (
        ",\nwho AS (\n"
        f"  SELECT DISTINCT {resolved_user(F)} AS uid\n"
        f"  FROM events e\n{scope.identity_join()}"
        f"  WHERE e.project_id = {scope.param(scope.project_id)} AND (\n"
        f"    lower(e.user_email) = {scope.param(who.lower())}"
        f" OR e.user_id = {scope.param(who)}"
        f" OR e.anonymous_id = {scope.param(who)}"
        f" OR {F.joined_user('i.user_id')} = {scope.param(who)})\n)"
    )
    return sql + ",\npicked AS (SELECT * FROM base WHERE uid IN (SELECT uid FROM who))"


def _fetch(
    engine: QueryEngine,
    project: Project,
    period: Period,
    user: str | None,
    body: str,
    params: Sequence[Any] = (),
) -> list[dict[str, Any]]:
    """Run ``body``, SQL over ``picked`` whose ``?`` take ``params`` in order."""
    scope = engine.scope(project, period)
    sql = picked(scope, user) + "\n" + body
    scope.params.extend(params)
    return engine.fetch(scope, sql)


def _grouped(
    engine: QueryEngine,
    project: Project,
    period: Period,
    user: str | None,
    *,
    key: str,
    where: str,
    params: Sequence[Any],
    limit: int,
) -> tuple[list[dict[str, Any]], bool]:
    """Views and distinct visitors per ``key`` over the rows where ``where`` holds."""
    body = (
        f"SELECT {key} AS k, count(*) AS views, {engine.dialect.count_distinct('uid')} AS visitors"
        f"\nFROM picked WHERE {where}\n"
        f"GROUP BY {key} ORDER BY views DESC, k LIMIT {int(limit) + 1}"
    )
    rows = _fetch(engine, project, period, user, body, params)
    return rows[:limit], len(rows) > limit


# Convalytics reports ----------------------------------------------------------------------


def top_pages(
    engine: QueryEngine, project: Project, period: Period, *, limit: int, user: str | None = None
) -> dict[str, Any]:
    """Paths by page views, with distinct visitors."""
    rows, truncated = _grouped(
        engine,
        project,
        period,
        user,
        key="path",
        where="name = ? AND path IS NOT NULL",
        params=[PAGE_VIEW],
        limit=limit,
    )
    return {
        "project": project.name,
        **span(period),
        "pages": [{"path": r["k"], "views": r["views"], "visitors": r["visitors"]} for r in rows],
        "truncated": truncated,
    }


def top_referrers(
    engine: QueryEngine, project: Project, period: Period, *, limit: int, user: str | None = None
) -> dict[str, Any]:
    """Referring hosts by page views; no referrer at all is ``(direct)``.

    A page view whose referrer is the site itself (a click between its own pages) is
    internal navigation, not a referral, and is left out.
    """
    rows, truncated = _grouped(
        engine,
        project,
        period,
        user,
        key=f"coalesce(referrer_host, '{DIRECT}')",
        where="name = ? AND (referrer_host IS NOT NULL OR coalesce(referrer, '') = '')",
        params=[PAGE_VIEW],
        limit=limit,
    )
    return {
        "project": project.name,
        **span(period),
        "referrers": [
            {"referrer": r["k"], "views": r["views"], "visitors": r["visitors"]} for r in rows
        ],
        "truncated": truncated,
    }


def pageviews_count(
    engine: QueryEngine, project: Project, period: Period, *, user: str | None = None
) -> dict[str, Any]:
    F = engine.dialect
    views = F.count_if(_IS_PAGE_VIEW)
    visitors = F.count_distinct(f"CASE WHEN {_IS_PAGE_VIEW} THEN uid END")
    sql = f"SELECT {views} AS views, {visitors} AS visitors FROM picked"
    row = _fetch(engine, project, period, user, sql)[0]
    return {
        "project": project.name,
        **span(period),
        "pageviews": row["views"] or 0,
        "visitors": row["visitors"] or 0,
    }


def _event_test(name: str | None) -> tuple[str, list[Any]]:
    """Custom events (not page views), or the events named ``name``."""
    return ("name = ?", [name]) if name else ("name <> ?", [PAGE_VIEW])


def events_count(
    engine: QueryEngine,
    project: Project,
    period: Period,
    *,
    name: str | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    """Custom events (page views are counted by ``pageviews_count``), or one event name."""
    test, params = _event_test(name)
    users = engine.dialect.count_distinct("uid")
    body = f"SELECT count(*) AS n, {users} AS users FROM picked WHERE {test}"
    row = _fetch(engine, project, period, user, body, params)[0]
    return {
        "project": project.name,
        "name": name,
        **span(period),
        "count": row["n"] or 0,
        "users": row["users"] or 0,
        # counts are exact: the store aggregates, nothing is sampled or capped
        "truncated": False,
    }


def recent_events(
    engine: QueryEngine,
    project: Project,
    period: Period,
    *,
    limit: int,
    redact: bool = True,
    name: str | None = None,
    user: str | None = None,
    include_pageviews: bool = False,
) -> dict[str, Any]:
    """The newest events; ``redact`` nulls e-mails and names and empties the props."""
    test, params = _event_test(name) if name or not include_pageviews else ("true", [])
    body = (
        f"SELECT name, {engine.dialect.epoch_ms('timestamp')} AS ts, user_id, anonymous_id, uid,"
        " session_id, user_email, user_name, path, environment, source, properties\n"
        f"FROM picked WHERE {test} ORDER BY timestamp DESC, event_id LIMIT {int(limit) + 1}"
    )
    rows = _fetch(engine, project, period, user, body, params)
    return {
        "project": project.name,
        **span(period),
        "redacted": redact,
        "events": [_event_json(r, redact) for r in rows[:limit]],
        "truncated": len(rows) > limit,
    }


def _event_json(row: dict[str, Any], redact: bool) -> dict[str, Any]:
    props = json.loads(row["properties"] or "{}")
    return {
        "name": row["name"],
        "timestamp": row["ts"],
        "userId": row["user_id"] or row["anonymous_id"],
        "resolvedUserId": row["uid"],
        "sessionId": row["session_id"],
        "userEmail": None if redact else row["user_email"],
        "userName": None if redact else row["user_name"],
        "path": row["path"],
        "environment": row["environment"],
        "source": row["source"],
        "props": {} if redact else props,
    }


def user_activity(
    engine: QueryEngine, project: Project, period: Period, *, user: str
) -> dict[str, Any]:
    """One person: who they are, what they did in the period, their 20 newest events."""
    F = engine.dialect
    totals = _fetch(
        engine,
        project,
        period,
        user,
        "SELECT count(*) AS n, "
        f"{F.count_if(_IS_PAGE_VIEW)} AS pageviews, "
        f"{F.count_distinct('coalesce(session_id, uid)')} AS sessions, "
        f"{F.epoch_ms('min(timestamp)')} AS first_seen, "
        f"{F.epoch_ms('max(timestamp)')} AS last_seen, "
        f"{F.arg_max_if('user_email', 'timestamp', 'user_email IS NOT NULL')} AS email, "
        f"{F.arg_max_if('user_name', 'timestamp', 'user_name IS NOT NULL')} AS uname "
        "FROM picked",
    )[0]
    ids = _fetch(engine, project, period, user, "SELECT DISTINCT uid FROM picked ORDER BY uid")
    n = int(totals["n"] or 0)
    pages = top_pages(engine, project, period, limit=10, user=user)["pages"]
    events = top_events(engine, project, period, limit=10, user=user)
    recent = recent_events(
        engine, project, period, limit=20, redact=False, user=user, include_pageviews=True
    )
    return {
        "project": project.name,
        **span(period),
        "user": user,
        "found": n > 0,
        "identity": {
            "userIds": [r["uid"] for r in ids],
            "userEmail": totals["email"] if n else None,
            "userName": totals["uname"] if n else None,
            "firstSeen": totals["first_seen"] if n else None,
            "lastSeen": totals["last_seen"] if n else None,
        },
        "counts": {
            "pageviews": int(totals["pageviews"] or 0),
            "events": n - int(totals["pageviews"] or 0),
            "sessions": int(totals["sessions"] or 0),
        },
        "topPages": pages,
        "topEvents": events,
        "recentEvents": recent["events"],
    }


def top_events(
    engine: QueryEngine, project: Project, period: Period, *, limit: int, user: str | None = None
) -> list[dict[str, Any]]:
    """Custom event names by count, with distinct users."""
    rows, _ = _grouped(
        engine,
        project,
        period,
        user,
        key="name",
        where="name <> ?",
        params=[PAGE_VIEW],
        limit=limit,
    )
    return [{"name": r["k"], "count": r["views"], "users": r["visitors"]} for r in rows]


# summaries --------------------------------------------------------------------------------

_DIGEST_METRICS = ["unique_users", "pageviews", "session_count", "bounce_rate", "avg_duration"]


def _digest_numbers(engine: QueryEngine, project: Project, period: Period) -> dict[str, Any]:
    totals = engine.one(project, period, _DIGEST_METRICS)
    custom = engine.one(
        project, period, ["event_count"], filters=[Filter("event", "neq", PAGE_VIEW)]
    )
    return {
        "visitors": totals["unique_users"] or 0,
        "pageviews": totals["pageviews"] or 0,
        "sessions": totals["session_count"] or 0,
        "bounceRate": totals["bounce_rate"] or 0,
        "avgSessionDuration": totals["avg_duration"] or 0,
        "eventTotal": custom["event_count"] or 0,
    }


def _delta(current: float, previous: float) -> dict[str, Any]:
    change = current - previous
    return {
        "previous": previous,
        "change": round(change, 4),
        "changePct": round(change * 100 / previous, 1) if previous else None,
    }


def weekly_digest(
    engine: QueryEngine,
    project: Project,
    *,
    days: int = 7,
    compare: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The last ``days`` days at a glance, with the change from the ``days`` before.

    Raises:
        ValidationError: days outside 1-90.
    """
    if not 1 <= days <= 90:
        raise ValidationError("days must be between 1 and 90", code="INVALID_PARAMETER")
    end = now or datetime.now(UTC)
    period = Period(end - timedelta(days=days), end, project.timezone)
    numbers = _digest_numbers(engine, project, period)
    body: dict[str, Any] = {
        "project": project.name,
        "days": days,
        **span(period),
        **numbers,
        "avgSessionDurationUnit": "seconds",
        "topPages": top_pages(engine, project, period, limit=5)["pages"],
        "topReferrers": top_referrers(engine, project, period, limit=5)["referrers"],
        "topEvents": top_events(engine, project, period, limit=5),
    }
    if compare:
        before = _digest_numbers(engine, project, period.previous())
        body["previousPeriod"] = span(period.previous())
        body["deltas"] = {name: _delta(numbers[name], before[name]) for name in numbers}
    return body
