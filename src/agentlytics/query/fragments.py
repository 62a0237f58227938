"""Sessions read from the store's session fragments instead of every event (DuckDB).

The embedded store keeps ``session_hourly`` (``storage/duckdb/rollup.py``): per UTC hour,
session and raw user id, the first and last event, counts, and the first and last page view;
``whole`` marks a session's only row (and ``session_loose`` the same for events without a
session id). A period's sessions are then

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
_RAW_COLUMNS = "timestamp, name, path, user_id, anonymous_id, session_id"
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
    first, last = utc_hours(scope)
    return (first, last) if first < last else None


def utc_hours(scope: Scope) -> tuple[datetime, datetime]:
    """The whole UTC hours inside the period, [first, last); empty (first = last) when the
    period holds none."""
    start, end = scope.period.start_param, scope.period.end_param
    first = start.replace(minute=0, second=0, microsecond=0)
    first += timedelta(hours=1) if first < start else timedelta(0)
    last = end.replace(minute=0, second=0, microsecond=0)
    return (first, last) if first < last else (start, start)


#: how far back ``newest_first`` looks first, then next (hours before the period's last)
_NEWEST_HOURS = (3, 24)


_HOUR = timedelta(hours=1)


def _floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def cut_fits(hours: tuple[datetime, datetime], cut: datetime) -> bool:
    """Whether a cut (naive UTC) falls in one of the whole ``hours`` [first, last)."""
    return hours[0] <= _floor(cut) < hours[1]


def cut_hour(cut: datetime | None) -> datetime | None:
    """The hour a cut falls in, unless it is on the hour (or None): read from the events,
    whose times place each one on its side."""
    return _floor(cut) if cut is not None and cut != _floor(cut) else None


def usable(scope: Scope) -> tuple[datetime, datetime] | None:
    """The whole hours the fragments can answer for, when they can answer this scope."""
    if not scope.session_fragments or scope.dialect.shift_local is None:
        return None
    if any(FILTER_FIELDS.get(f.field) != "uid" or f.op != "eq" for f in scope.filters):
        return None
    return whole_hours(scope)


def newest_first(scope: Scope) -> list[datetime | None]:
    """``since`` values for reading the newest sessions: a few recent hours, then more, then
    (None) the whole period."""
    hours = usable(scope)
    if hours is None or scope.filters:  # a session's other users' rows would count early
        return [None]
    first, last = hours
    cuts = [last - timedelta(hours=n) for n in _NEWEST_HOURS]
    return [*(cut for cut in cuts if cut > first), None]


class Fragments:
    """The SQL that reads one scope's sessions from the fragments.

    ``ctes()`` defines the small relations (the raw events and their fragments, the hashes of
    their session ids, the rows without a session id with the inactivity rule applied, and
    with ``since`` the ``early`` sessions); ``whole()`` and ``parts()`` are subqueries over
    the whole sessions and the fragments to merge. Each is spelled out where it is read, so
    the engine scans the big table once per use with only the columns that use needs,
    rather than materializing it. Parameters go in the order the text is asked for.

    ``resolve``: ``uid`` is the identity-resolved user on every row (else only where the
    inactivity rule or a user filter needs it). ``since`` (an hour): only the sessions that
    start from then on. ``totals``: only what session counts and sums need (no entry and exit
    pages), and ``parts()`` keyed by the session id's hash ``sk`` instead of the id: the
    fragments without a session id then carry no page columns through the inactivity rule's
    window (which the engine cannot prune), and the split sessions are grouped by an integer
    (a collision of two sessions' hashes would merge them, as it would in ``rk``).

    ``cut`` (naive UTC, with ``totals``; its hour one of the whole hours): every row carries
    ``p``, whether it is at or after the cut, and sessions are those of each side apart, as
    if each side were a period of its own (``/insights``' two periods in one statement). The
    cut's hour is read from the events, whose times place each one on its side.
    """

    def __init__(
        self,
        scope: Scope,
        hours: tuple[datetime, datetime],
        *,
        resolve: bool = True,
        since: datetime | None = None,
        totals: bool = False,
        cut: datetime | None = None,
    ) -> None:
        self.scope = scope
        self.first, self.last = hours
        self.resolve = resolve or bool(scope.filters)
        self.since = since if since is not None and since > self.first else None
        if totals and self.since is not None:
            raise ValueError("session totals are over the whole period: no since")
        if cut is not None and not (totals and cut_fits(hours, cut)):
            raise ValueError("a cut splits session totals, inside the whole hours")
        self.totals = totals
        self.cut = cut
        #: the hour the cut falls in, unless on the hour: read from the events
        self.cut_hour = cut_hour(cut)
        #: the side column every row carries with a cut
        self._side = ", p" if cut is not None else ""
        #: the column ``parts()`` rows are merged by
        self.key = "sk" if totals else "sid"
        self._pages = "" if totals else ", entry_ts, entry, exit_ts, exit"

    def _stored(
        self, low: datetime, high: datetime, cond: str, table: str = "session_hourly"
    ) -> str:
        p = self.scope.param
        select = (
            f"SELECT hour, {self.key}, uid, t0, t1, events AS n, pageviews AS pv, active"
            f"{self._pages}"
        )
        if self.cut is not None:  # (parameters in the order of the text)
            select += f", hour >= {p(self.cut)} AS p"
        where = (
            f"r.project_id = {p(self.scope.project_id)} AND r.hour >= {p(low)} "
            f"AND r.hour < {p(high)} AND {cond}"
        )
        if self.cut_hour is not None:
            where += f" AND r.hour <> {p(self.cut_hour)}"
        return f"{select} FROM {table} r WHERE {where}"

    def _rows(self, relation: str, where: str = "") -> str:
        """Rows of ``fraw`` or ``fn`` (which hold session ids, not their hashes) in the
        columns ``_stored`` reads."""
        if not self.totals:
            return f"SELECT * FROM {relation}{where}"
        return (
            f"SELECT hour, hash(sid) AS sk, uid, t0, t1, n, pv, active{self._side} "
            f"FROM {relation}{where}"
        )

    def _resolved(self, rows: str, always: bool = False) -> str:
        """``rows`` (a subquery) with ``uid`` resolved when asked, and the user filter."""
        F, p = self.scope.dialect, self.scope.param
        if (self.resolve or always) and self.scope.identities:
            rows = (
                f"SELECT f.* REPLACE (coalesce({F.joined_user('i.user_id')}, f.uid) AS uid) "
                f"FROM ({rows}) AS f LEFT JOIN {F.identities} i "
                f"ON i.project_id = {p(self.scope.project_id)} AND i.previous_id = f.uid"
            )
        users = [f"uid = {p(f.value)}" for f in self.scope.filters]
        if users:
            rows = f"SELECT * FROM ({rows}) AS u WHERE {' AND '.join(users)}"
        return rows

    def ctes(self) -> str:
        scope, F, p = self.scope, self.scope.dialect, self.scope.param
        first, last = self.first, self.last
        start, end = scope.period.start_param, scope.period.end_param

        def events(low: datetime, high: datetime, late: bool = False) -> str:
            # the columns ``fraw`` reads (naming them spares the planner every other one)
            side = f", e.timestamp >= {p(self.cut)} AS p" if self.cut is not None else ""
            sql = (
                f"SELECT {_RAW_COLUMNS}{side} FROM events e WHERE e.project_id = "
                f"{p(scope.project_id)} AND e.timestamp >= {p(low)} AND e.timestamp < {p(high)}"
            )
            if late:
                sql += f" AND e.received_at >= {_WATERMARK}"
            if late and self.cut_hour is not None:  # read whole below
                cut = self.cut_hour
                sql += f" AND NOT (e.timestamp >= {p(cut)} AND e.timestamp < {p(cut + _HOUR)})"
            return sql

        # separate scans, so that each is pruned by the timestamp (and received_at) zone maps
        scans = [events(start, first), events(last, end)]
        if self.cut_hour is not None:
            scans.append(events(self.cut_hour, self.cut_hour + _HOUR))
        scans.append(events(first, last, late=True))
        raw = "  " + "\n  UNION ALL ".join(scans) + "\n"
        page = _PAGE
        reduced = (
            "  SELECT date_trunc('hour', timestamp) AS hour, session_id AS sid, "
            "coalesce(user_id, anonymous_id) AS uid, min(timestamp) AS t0, "
            f"max(timestamp) AS t1, count(*) AS n, count(*) FILTER (WHERE name = '{PAGE_VIEW}') "
            f"AS pv, count(*) FILTER (WHERE name NOT IN ({_PASSIVE})) AS active, "
            f"min(timestamp) FILTER (WHERE {page}) AS entry_ts, "
            f"arg_min(path, timestamp) FILTER (WHERE {page}) AS entry, "
            f"max(timestamp) FILTER (WHERE {page}) AS exit_ts, "
            f"arg_max(path, timestamp) FILTER (WHERE {page}) AS exit{self._side}\n"
            "  FROM raw GROUP BY hour, sid, uid, "
            f"CASE WHEN session_id IS NULL THEN timestamp END{self._side}\n"
        )
        # the fragments without a session id are stored apart (``session_loose``)
        nulls = self._resolved(
            f"{self._stored(first, last, 'true', 'session_loose')} "
            f"UNION ALL {self._rows('fraw', ' WHERE sid IS NULL')}",
            always=True,
        )
        by = "p, uid" if self.cut is not None else "uid"
        window = f"(PARTITION BY {by} ORDER BY t0 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
        lag = f"lag(t0) OVER {window}"
        ctes = [
            f"raw AS (\n{raw})",
            f"fraw AS (\n{reduced})",
            # whole fragments whose session also has raw events are merged like the others;
            # the session id's hash finds them (a collision merges one more row, exactly;
            # ``IN`` needs no DISTINCT)
            "rk AS (SELECT hash(sid) AS sk FROM fraw WHERE sid IS NOT NULL)",
            f"fa AS (\n  SELECT *, CASE WHEN {lag} IS NULL OR {F.epoch_ms('t0')} - "
            f"{F.epoch_ms(lag)} > {SESSION_GAP_MS} THEN 1 ELSE 0 END AS new_session\n"
            f"  FROM ({nulls}) AS n\n)",
            f"fn AS (\n  SELECT hour, uid || '~' || "
            f"{F.to_text(f'sum(new_session) OVER {window}')} AS sid, uid, t0, t1, n, pv, "
            f"active{self._pages}{self._side} FROM fa\n)",
        ]
        if self.totals:
            # read once for ``parts()`` and, subtracted, for ``whole_sums()``
            extended = self._stored(first, last, "r.whole AND r.sk IN (SELECT sk FROM rk)")
            ctes.append(f"ext AS MATERIALIZED (\n  {extended}\n)")
        if self.since is not None:
            since = self.since
            ctes.append(
                "early AS (\n"
                f"  SELECT sid FROM session_hourly r WHERE r.project_id = {p(scope.project_id)} "
                f"AND r.hour >= {p(first)} AND r.hour < {p(since)} AND r.sid IS NOT NULL "
                "AND (NOT r.whole OR r.sk IN (SELECT sk FROM rk))\n"
                f"  UNION ALL SELECT sid FROM fraw WHERE sid IS NOT NULL AND hour < {p(since)}\n"
                f"  UNION ALL SELECT sid FROM fn WHERE hour < {p(since)}\n)"
            )
        return ",\n".join(ctes)

    def _later(self, rows: str) -> str:
        """``rows`` of sessions that start from ``since`` on (all without ``since``)."""
        if self.since is None:
            return rows
        return (
            f"SELECT * FROM ({rows}) AS l WHERE hour >= {self.scope.param(self.since)} "
            "AND NOT EXISTS (SELECT 1 FROM early WHERE early.sid IS NOT DISTINCT FROM l.sid)"
        )

    def whole(self) -> str:
        """The sessions that are one stored fragment and have no raw events."""
        low = self.since or self.first
        rows = self._stored(low, self.last, "r.whole AND r.sk NOT IN (SELECT sk FROM rk)")
        return self._later(self._resolved(rows))

    def whole_sums(self) -> str | None:
        """With ``totals``: rows of the whole sessions' count and sums (``k``, ``bounces``,
        ``ms``, ``n``, ``pv``; with a cut, per side ``p``) read from the hourly totals of the
        whole fragments (``session_totals``), less those of the fragments that raw events
        extend (``ext``, merged in ``parts()`` instead). None with a user filter: the totals
        are not per user."""
        if not self.totals or self.scope.filters:
            return None
        p, ms = self.scope.param, self.scope.dialect.epoch_ms
        side = f"hour >= {p(self.cut)} AS p, " if self.cut is not None else ""
        where = (
            f"project_id = {p(self.scope.project_id)} AND hour >= {p(self.first)} "
            f"AND hour < {p(self.last)}"
        )
        if self.cut_hour is not None:
            where += f" AND hour <> {p(self.cut_hour)}"
        by = " GROUP BY p" if self.cut is not None else ""
        less = "p, " if self.cut is not None else ""
        return (
            f"SELECT {side}sum(sessions) AS k, sum(bounces) AS bounces, sum(ms) AS ms, "
            f"sum(events) AS n, sum(pageviews) AS pv FROM session_totals WHERE {where}{by}\n"
            f"  UNION ALL\n  SELECT {less}-count(*), -count(*) FILTER (WHERE active = 0), "
            f"-sum({ms('t1')} - {ms('t0')}), -sum(n), -sum(pv) FROM ext{by}"
        )

    def parts(self) -> str:
        """The fragments of every other session, to merge by ``sid``."""
        low = self.since or self.first
        # two scans: the split sessions' rows (a filter the scan applies as it reads), and
        # the whole ones that raw events extend (found by hash)
        split = self._stored(low, self.last, "NOT r.whole")
        extended = (
            "SELECT * FROM ext"
            if self.totals
            else self._stored(low, self.last, "r.whole AND r.sk IN (SELECT sk FROM rk)")
        )
        stored = f"{split} UNION ALL {extended}"
        rows = self._resolved(f"{stored} UNION ALL {self._rows('fraw', ' WHERE sid IS NOT NULL')}")
        return self._later(f"{rows} UNION ALL {self._rows('fn')}")


def fragments(
    scope: Scope, *, resolve: bool = True, since: datetime | None = None, totals: bool = False
) -> Fragments | None:
    """The scope's sessions from the fragments, or None: scan the events instead."""
    hours = usable(scope)
    if hours is None:
        return None
    return Fragments(scope, hours, resolve=resolve, since=since, totals=totals)


def session_rows(fr: Fragments) -> str:
    """``ss``, with the columns of ``sessions.session_rows_cte``."""
    F = fr.scope.dialect
    day = F.format_bucket
    local = fr.scope.local_time_sql
    first_day = day("day", f"min({local('t0')})")
    whole = fr.whole()
    parts = fr.parts()
    return (
        "ss AS (\n"
        f"  SELECT sid, uid AS s_user, n AS s_events, active = 0 AS s_bounce, "
        f"{F.epoch_ms('t0')} AS s_start, {F.epoch_ms('t1')} AS s_end, "
        f"({F.epoch_ms('t1')} - {F.epoch_ms('t0')}) / 1000.0 AS s_duration, entry AS s_entry, "
        f"exit AS s_exit, {day('day', local('t0'))} AS s_date\n"
        f"  FROM ({whole}) AS w\n"
        "  UNION ALL\n"
        "  SELECT sid, min(uid), sum(n), sum(active) = 0, "
        f"{F.epoch_ms('min(t0)')}, {F.epoch_ms('max(t1)')}, "
        f"({F.epoch_ms('max(t1)')} - {F.epoch_ms('min(t0)')}) / 1000.0, "
        f"{F.arg_min('entry', 'entry_ts')}, {F.arg_max('exit', 'exit_ts')}, "
        f"{first_day}\n"
        f"  FROM ({parts}) AS m GROUP BY sid\n)"
    )


def metric_sessions(fr: Fragments) -> str:
    """``s`` for ``build.session_metric_sql`` (one row per session: uid, n, pv, bounce,
    duration)."""
    ms = fr.scope.dialect.epoch_ms
    whole = fr.whole()
    parts = fr.parts()
    return (
        "s AS (\n"
        "  SELECT sid, uid, n, pv, active = 0 AS bounce, "
        f"({ms('t1')} - {ms('t0')}) / 1000.0 AS duration FROM ({whole}) AS w\n"
        "  UNION ALL\n"
        "  SELECT sid, min(uid), sum(n), sum(pv), sum(active) = 0, "
        f"({ms('max(t1)')} - {ms('min(t0)')}) / 1000.0 FROM ({parts}) AS m GROUP BY sid\n)"
    )


def session_sums(fr: Fragments) -> str:
    """``t``: two rows of session counts and sums (``k`` sessions, ``bounces``, ``ms`` of
    duration, ``n`` events, ``pv`` page views) for ``_SUMS``: the whole sessions' from the
    hourly totals (``Fragments.whole_sums``; with a user filter, summed as the fragments are
    read), and only the sessions merged from several rows are listed. With a cut, per side
    ``p``."""
    ms = fr.scope.dialect.epoch_ms
    side, by, key = ("p, ", " GROUP BY p", f"p, {fr.key}") if fr.cut else ("", "", fr.key)
    whole = fr.whole_sums()
    if whole is None:
        whole = (
            f"SELECT {side}count(*) AS k, count(*) FILTER (WHERE active = 0) AS bounces, "
            f"sum({ms('t1')} - {ms('t0')}) AS ms, sum(n) AS n, sum(pv) AS pv "
            f"FROM ({fr.whole()}) AS w{by}"
        )
    parts = fr.parts()
    return (
        "t AS (\n"
        f"  {whole}\n"
        "  UNION ALL\n"
        f"  SELECT {side}count(*), count(*) FILTER (WHERE active = 0), sum(ms), sum(n), sum(pv) "
        "FROM (\n"
        f"    SELECT {side}sum(active) AS active, {ms('max(t1)')} - {ms('min(t0)')} AS ms, "
        f"sum(n) AS n, sum(pv) AS pv FROM ({parts}) AS m GROUP BY {key}\n  ) AS g{by}\n)"
    )


def sides_sql(scope: Scope, metrics: list[str], cut: datetime) -> str | None:
    """Session ``metrics`` (summed ones: ``_SUMS``) on each side of ``cut`` (naive UTC) in one
    statement, as if each side were a period of its own: rows (``p``: at or after the cut,
    ``m0``...), a side without sessions left out. For ``/insights``, whose two periods meet
    at the cut; None when the fragments cannot answer."""
    hours = usable(scope)
    if hours is None or scope.filters or not cut_fits(hours, cut):
        return None
    if not all(m in _SUMS for m in metrics):
        return None
    fr = Fragments(scope, hours, resolve=False, totals=True, cut=cut)
    ctes = fr.ctes()
    sums = session_sums(fr)
    measures = ", ".join(f"{_SUMS[m]} AS m{i}" for i, m in enumerate(metrics))
    return f"WITH {ctes},\n{sums}\nSELECT p, {measures} FROM t GROUP BY p"


def session_totals_sql(scope: Scope, spec: QuerySpec) -> str | None:
    """The SQL of a query for session metrics over the whole period (no group-by) from
    the fragments, as ``build.build`` would answer it; None when it cannot be. Without
    ``unique_users``, the sessions are summed rather than listed (``session_sums``)."""
    if spec.group_by or not any(METRICS[m].level == "session" for m in spec.metrics):
        return None
    if not all(METRICS[m].level == "session" or m in _FROM_SESSIONS for m in spec.metrics):
        return None
    summed = all(m in _SUMS for m in spec.metrics)
    fr = fragments(scope, resolve="unique_users" in spec.metrics, totals=summed)
    if fr is None:
        return None
    ctes = fr.ctes()
    if summed:
        sums = session_sums(fr)
        measures = ", ".join(f"{_SUMS[m]} AS m{i}" for i, m in enumerate(spec.metrics))
        return f"WITH {ctes},\n{sums}\nSELECT {measures} FROM t"
    F = scope.dialect
    sessions = metric_sessions(fr)
    measures = ", ".join(f"{session_metric_sql(F, m)} AS m{i}" for i, m in enumerate(spec.metrics))
    return f"WITH {ctes},\n{sessions}\nSELECT {measures} FROM s LIMIT {int(spec.limit) + 1}"


#: metrics that ``build.build`` computes over sessions when a session-level metric is asked
_FROM_SESSIONS = frozenset({"event_count", "unique_users", "session_count", "pageviews"})
#: those that add up over sessions, from ``session_sums``' ``t``: the means are ratios of
#: integer sums (the scan's mean of 1.0 / 0.0 per session; the exact mean of the durations
#: the scan adds up as floats, the same to the 4 places answers are rounded to)
_SUMS = {
    "event_count": "sum(n)",
    "session_count": "sum(k)",
    "pageviews": "sum(pv)",
    "bounce_rate": "sum(bounces) / nullif(sum(k), 0)",
    "avg_duration": "sum(ms) / nullif(sum(k), 0) / 1000.0",
}
