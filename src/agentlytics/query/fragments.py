"""Sessions read from the store's session fragments instead of every event (DuckDB).

The embedded store keeps ``session_hourly`` (``storage/duckdb/rollup.py``): per UTC hour,
session and raw user id, the first and last event, counts, and the first and last page view;
``whole`` marks a session's only row. A period's sessions are then

* the fragments of the whole UTC hours inside it (the events received before the
  fragments' watermark),
* plus the events of those hours received since, and of the partial hours at the edges,
  reduced to the same shape (``raw``),

users resolved through the identity map, the inactivity rule applied to the rows without a
``session_id`` (one per user and millisecond), and fragments merged by session. A ``whole``
fragment that no raw event extends is a session as it is; only the others are grouped.
Same answers as the scan of ``build.session_ctes`` (``tests/query/test_fragments.py``), read
in one snapshot; None (scan instead) for other filters, engines without the table, and zones
whose offsets are not whole hours.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from agentlytics.model.event import PAGE_VIEW, PASSIVE_EVENTS
from agentlytics.query.build import (
    SESSION_GAP_MS,
    Scope,
    session_metric_sql,
    utc_offsets,
)
from agentlytics.query.model import FILTER_FIELDS, METRICS, QuerySpec

_PASSIVE = ", ".join(f"'{name}'" for name in sorted(PASSIVE_EVENTS))
_PAGE = f"name = '{PAGE_VIEW}' AND path IS NOT NULL AND path <> ''"
_WATERMARK = "(SELECT watermark FROM rollup_state WHERE name = 'session_hourly')"
_COLUMNS = "hour, sid, uid, t0, t1, n, pv, active, entry_ts, entry, exit_ts, exit, whole"


def whole_hours(scope: Scope) -> tuple[datetime, datetime] | None:
    """The first and last (exclusive) whole UTC hour inside the period, when local time is
    UTC plus whole hours that change only on the hour; else None."""
    period = scope.period
    spans = utc_offsets(period.tz, period.start, period.end)
    if spans is None or any(
        offset % 3600 or (until is not None and (until.minute or until.second))
        for offset, until in spans
    ):
        return None
    start, end = period.start_param, period.end_param
    first = start.replace(minute=0, second=0, microsecond=0)
    first += timedelta(hours=1) if first < start else timedelta(0)
    last = end.replace(minute=0, second=0, microsecond=0)
    return (first, last) if first < last else None


def fragments_cte(scope: Scope) -> str | None:
    """``fr``: the period's events as session fragments (``_COLUMNS``; ``uid`` resolved,
    ``sid`` set by the inactivity rule where the events had none). None: scan instead."""
    F = scope.dialect
    if not scope.session_fragments or F.shift_local is None:
        return None
    if any(FILTER_FIELDS.get(f.field) != "uid" or f.op != "eq" for f in scope.filters):
        return None
    hours = whole_hours(scope)
    if hours is None:
        return None
    first, last = hours
    start, end = scope.period.start_param, scope.period.end_param
    p = scope.param

    def events(low: datetime, high: datetime, more: str = "") -> str:
        # parameters in the order of their placeholders
        return (
            f"SELECT * FROM events e WHERE e.project_id = {p(scope.project_id)} "
            f"AND e.timestamp >= {p(low)} AND e.timestamp < {p(high)}{more}"
        )

    # three scans, so that each is pruned by the timestamp (and received_at) zone maps
    raw = (
        f"  {events(start, first)}\n  UNION ALL {events(last, end)}\n"
        f"  UNION ALL {events(first, last, f' AND e.received_at >= {_WATERMARK}')}\n"
    )
    page = _PAGE
    reduced = (
        "  SELECT date_trunc('hour', timestamp) AS hour, session_id AS sid, "
        "coalesce(user_id, anonymous_id) AS uid, min(timestamp) AS t0, max(timestamp) AS t1, "
        f"count(*) AS n, count(*) FILTER (WHERE name = '{PAGE_VIEW}') AS pv, "
        f"count(*) FILTER (WHERE name NOT IN ({_PASSIVE})) AS active, "
        f"min(timestamp) FILTER (WHERE {page}) AS entry_ts, "
        f"arg_min(path, timestamp) FILTER (WHERE {page}) AS entry, "
        f"max(timestamp) FILTER (WHERE {page}) AS exit_ts, "
        f"arg_max(path, timestamp) FILTER (WHERE {page}) AS exit, false AS whole\n"
        "  FROM raw GROUP BY hour, sid, uid, CASE WHEN session_id IS NULL THEN timestamp END\n"
    )
    stored = (
        "  SELECT hour, sid, uid, t0, t1, events AS n, pageviews AS pv, active, entry_ts, entry, "
        "exit_ts, exit, whole AND (sid IS NULL OR sid NOT IN (SELECT sid FROM fraw WHERE sid "
        "IS NOT NULL)) AS whole\n"
        f"  FROM session_hourly r WHERE r.project_id = {p(scope.project_id)} "
        f"AND r.hour >= {p(first)} AND r.hour < {p(last)}\n"
    )
    if scope.identities:
        resolved = (
            f"  SELECT f0.* REPLACE (coalesce({F.joined_user('i.user_id')}, f0.uid) AS uid)\n"
            f"  FROM f0 LEFT JOIN {F.identities} i\n"
            f"    ON i.project_id = {p(scope.project_id)} AND i.previous_id = f0.uid\n"
        )
    else:
        resolved = "  SELECT * FROM f0\n"
    users = [f"uid = {p(f.value)}" for f in scope.filters]
    if users:
        resolved = f"  SELECT * FROM ({resolved}) AS u WHERE {' AND '.join(users)}\n"
    window = "(PARTITION BY uid ORDER BY t0 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    lag = f"lag(t0) OVER {window}"
    return (
        f"raw AS (\n{raw}),\n"
        f"fraw AS (\n{reduced}),\n"
        f"f0 AS (\n{stored}  UNION ALL\n  SELECT * FROM fraw\n),\n"
        f"f1 AS {F.materialized}(\n{resolved}),\n"
        "fa AS (\n"
        f"  SELECT *, CASE WHEN {lag} IS NULL OR {F.epoch_ms('t0')} - {F.epoch_ms(lag)} > "
        f"{SESSION_GAP_MS} THEN 1 ELSE 0 END AS new_session\n"
        "  FROM f1 WHERE sid IS NULL\n),\n"
        "fr AS (\n"
        f"  SELECT {_COLUMNS} FROM f1 WHERE sid IS NOT NULL\n"
        "  UNION ALL\n"
        f"  SELECT hour, uid || '~' || {F.to_text(f'sum(new_session) OVER {window}')} AS sid, "
        "uid, t0, t1, n, pv, active, entry_ts, entry, exit_ts, exit, whole FROM fa\n)"
    )


def session_rows(scope: Scope, *, whole_since: datetime | None = None) -> str:
    """``ss`` from ``fr``, with the columns of ``sessions.session_rows_cte``.

    ``whole_since``: leave out the whole sessions of earlier hours (for callers that only
    want sessions starting from then on)."""
    F = scope.dialect
    since = f" AND hour >= {scope.param(whole_since)}" if whole_since is not None else ""
    day = F.format_bucket
    local = scope.local_time_sql
    first_day = day("day", f"min({local('t0')})")
    return (
        "ss AS (\n"
        f"  SELECT sid, uid AS s_user, n AS s_events, active = 0 AS s_bounce, "
        f"{F.epoch_ms('t0')} AS s_start, {F.epoch_ms('t1')} AS s_end, "
        f"({F.epoch_ms('t1')} - {F.epoch_ms('t0')}) / 1000.0 AS s_duration, entry AS s_entry, "
        f"exit AS s_exit, {day('day', local('t0'))} AS s_date\n"
        f"  FROM fr WHERE whole{since}\n"
        "  UNION ALL\n"
        "  SELECT sid, min(uid), sum(n), sum(active) = 0, "
        f"{F.epoch_ms('min(t0)')}, {F.epoch_ms('max(t1)')}, "
        f"({F.epoch_ms('max(t1)')} - {F.epoch_ms('min(t0)')}) / 1000.0, "
        f"{F.arg_min('entry', 'entry_ts')}, {F.arg_max('exit', 'exit_ts')}, "
        f"{first_day}\n"
        "  FROM fr WHERE NOT whole GROUP BY sid\n)"
    )


def metric_sessions() -> str:
    """``s`` for ``build.session_metric_sql`` (one row per session: uid, n, pv, bounce,
    duration) from ``fr``."""
    duration = "(epoch_ms({hi}) - epoch_ms({lo})) / 1000.0"
    return (
        "s AS (\n"
        "  SELECT sid, uid, n, pv, active = 0 AS bounce, "
        f"{duration.format(hi='t1', lo='t0')} AS duration FROM fr WHERE whole\n"
        "  UNION ALL\n"
        "  SELECT sid, min(uid), sum(n), sum(pv), sum(active) = 0, "
        f"{duration.format(hi='max(t1)', lo='min(t0)')} FROM fr WHERE NOT whole GROUP BY sid\n)"
    )


def session_totals_sql(scope: Scope, spec: QuerySpec) -> str | None:
    """The SQL of a query for session metrics over the whole period (no group-by) from
    the fragments, as ``build.build`` would answer it; None when it cannot be."""
    if spec.group_by or not any(METRICS[m].level == "session" for m in spec.metrics):
        return None
    if not all(METRICS[m].level == "session" or m in _FROM_SESSIONS for m in spec.metrics):
        return None
    fr = fragments_cte(scope)
    if fr is None:
        return None
    F = scope.dialect
    measures = ", ".join(f"{session_metric_sql(F, m)} AS m{i}" for i, m in enumerate(spec.metrics))
    return f"WITH {fr},\n{metric_sessions()}\nSELECT {measures} FROM s LIMIT {int(spec.limit) + 1}"


#: metrics that ``build.build`` computes over sessions when a session-level metric is asked
_FROM_SESSIONS = frozenset({"event_count", "unique_users", "session_count", "pageviews"})
