"""Events and distinct users read from the store's hourly users instead of every event (DuckDB).

The embedded store keeps ``user_hourly`` (``storage/duckdb/users.py``): events per UTC hour x
event name x raw user, the user as its **number**, dense per project (``user_numbers``). A
period's (time, event, user, events) rows are then

* the stored rows of the whole UTC hours inside it (events received before its watermark),
* plus the events of those hours received since, and of the partial hours at the edges,
  their users looked up in ``user_numbers`` (by the id's hash and the id; a user the writer
  has not numbered yet keeps its raw id as ``rid``),

and users are resolved through the identity map by numbers (``user_aliases``: the writer
numbers both ids of every identity, so an id without a number is never in the map).

Distinct users are then exact: numbers and raw ids never stand for the same user. They are
counted as bitmaps over [1, the project's highest number] (``bitstring_agg``, 2-3x cheaper
than hashing ~300k numbers per group) when the statement's groups x numbers fit
``BITMAP_BITS``, else by ``count(DISTINCT)``; numbers above the highest the engine knew
(assigned since) and raw ids are counted apart (``x``), as a list of unique values.

Served from it: ``/stats``' totals, series and per-event counts (``reduced``), ``/query`` for
event counts, page views and unique users by time and event (``query_sql``, hence
``/insights``), ``/heatmap``, and ``/properties``' events and users per event name. Zones
whose offset is not whole hours (or changes off the hour), filters other than on the event
name, and other engines read the events instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from agentlytics.model.event import PAGE_VIEW
from agentlytics.query import fragments
from agentlytics.query.build import _TIME_DIMENSIONS, Scope, group_keys, grouped
from agentlytics.query.model import QuerySpec
from agentlytics.storage.duckdb.users import found_sql

_RAW = "coalesce(e.user_id, e.anonymous_id)"
#: the metrics this module computes (over rows with ``n`` events)
METRICS = frozenset({"event_count", "unique_users", "pageviews"})
#: the bits one statement's bitmaps may hold in all (64 MB): groups x the numbers' range
BITMAP_BITS = 64 * 8 * 1024 * 1024
#: the groups assumed for a grouping by event name (projects rarely have more names)
NAME_GROUPS = 256
_HOUR = timedelta(hours=1)
_HOURS = {"hour": 1, "day": 24, "week": 7 * 24, "month": 31 * 24}


def usable(scope: Scope) -> tuple[datetime, datetime] | None:
    """The whole UTC hours the summary can answer for, when it can answer this scope."""
    if not scope.user_hours or scope.dialect.shift_local is None or not names_only(scope):
        return None
    return fragments.whole_hours(scope)


def names_only(scope: Scope) -> bool:
    """Whether the scope's only filters are (in)equalities on the event name."""
    return all(
        f.field == "event" and f.op in ("eq", "neq") and isinstance(f.value, str)
        for f in scope.filters
    )


def name_filters(scope: Scope, col: str) -> list[str]:
    """The scope's filters on the event name (``usable`` admits no others) over ``col``."""
    out = []
    for f in scope.filters:
        if f.op == "eq":
            out.append(f"{col} = {scope.param(f.value)}")
        else:
            out.append(f"({col} IS NULL OR {col} <> {scope.param(f.value)})")
    return out


def rows_cte(
    scope: Scope,
    hours: tuple[datetime, datetime],
    cut: datetime | None = None,
    *,
    by: str | None = None,
) -> str:
    """``ub``: (lts, name, u: the raw user's number, rid: the raw id when it has none yet,
    n: events) for every event of the period, from the summary for the whole hours and from
    the events (``ev``) for the rest.

    With a ``cut`` (naive UTC, inside the whole hours: ``fragments.cut_fits``), ``lts`` is
    replaced by ``p``: whether the row is at or after the cut. The hour the cut falls in is
    then read from the events, whose times place each one on its side
    (``fragments.cut_hour``).

    ``by``: an events column kept per user in ``dim_hourly`` (``scope.dim_columns``): the
    rows carry it instead of a time (NULL ``lts``), only for events that have a value; read
    from its rows of all names (NULL ``name``) when no filter needs the names."""
    p, local = scope.param, scope.local_time_sql
    first, last = hours
    start, end = scope.period.start_param, scope.period.end_param
    table = "user_hourly" if by is None else "dim_hourly"
    mark = f"(SELECT watermark FROM rollup_state WHERE name = '{table}')"

    def value(alias: str) -> str:  # the ``by`` column of a relation, after its name
        return "" if by is None else f", {alias}.{by}"

    def when(col: str) -> str:
        if by is not None:
            return "CAST(NULL AS TIMESTAMP) AS lts"
        return f"{col} >= {p(cut)} AS p" if cut is not None else f"{local(col)} AS lts"

    cut_hour = fragments.cut_hour(cut)

    def events(low: datetime, high: datetime, late: bool = False) -> str:
        select = f"  SELECT {when('e.timestamp')}, e.name{value('e')}, {_RAW} AS uid "
        conds = [
            f"e.project_id = {p(scope.project_id)}",
            f"e.timestamp >= {p(low)}",
            f"e.timestamp < {p(high)}",
            *name_filters(scope, "e.name"),
            *([f"e.{by} IS NOT NULL AND e.{by} <> ''"] if by is not None else []),
        ]
        if late:  # received since the summary's watermark, but for the cut's hour (read whole)
            conds.append(f"e.received_at >= {mark}")
            if cut_hour is not None:
                conds.append(
                    f"NOT (e.timestamp >= {p(cut_hour)} AND e.timestamp < {p(cut_hour + _HOUR)})"
                )
        return f"{select}FROM events e WHERE {' AND '.join(conds)}\n"

    # the edges' partial hours (and the cut's), then the events received since the summary's
    # watermark: separate scans, so that each is pruned by the timestamp zone maps; their
    # users looked up at once (by the hash first: DuckDB filters the numbers' scan by it, as
    # long as it estimates the ids fewer than the numbers: with one scan more it did not).
    # Parameters are taken in the order they appear in the text.
    edges = [(start, first), (last, end)]
    if cut_hour is not None:
        edges.append((cut_hour, cut_hour + _HOUR))
    scans = [events(low, high) for low, high in edges]
    scans.append(events(first, last, late=True))
    ev = "ev AS (\n" + "  UNION ALL\n".join(scans) + ")"
    summary = (
        f"  SELECT {when('r.hour')}, r.name{value('r')}, r.num AS u, CAST(NULL AS VARCHAR) AS rid, "
    )
    stored = stored_where(scope, hours, cut_hour, by=by)
    column = "p" if cut is not None else "lts"
    rows = (
        f"{ev},\nub AS (\n{summary}r.events AS n FROM {table} r WHERE {stored}\n"
        "  UNION ALL\n"
        f"  SELECT ev.{column}, ev.name{value('ev')}, l.num, "
        "CASE WHEN l.num IS NULL THEN ev.uid END, 1 "
    )
    return f"{rows}FROM ev LEFT JOIN (\n{_lookup(scope)}\n  ) AS l ON l.uid = ev.uid)"


def stored_where(
    scope: Scope,
    hours: tuple[datetime, datetime],
    cut_hour: datetime | None = None,
    *,
    by: str | None = None,
) -> str:
    """The condition on the summary's rows ``r`` that ``rows_cte`` reads (without the hour
    ``cut_hour``; ``by``: of ``dim_hourly``)."""
    p = scope.param
    stored = " AND ".join(
        [
            f"r.project_id = {p(scope.project_id)}",
            f"r.hour >= {p(hours[0])}",
            f"r.hour < {p(hours[1])}",
            *([f"r.hour <> {p(cut_hour)}"] if cut_hour is not None else []),
            *name_filters(scope, "r.name"),
        ]
    )
    if by is None:
        return stored
    # the rows of all names, or those of each name when filtered by it
    return stored + (" AND r.name IS NOT NULL" if scope.filters else " AND r.name IS NULL")


def _lookup(scope: Scope) -> str:
    """The numbers of the edge events' ids (``ev``): by the lookup key (``found_sql``), and
    the few ids without a key by the id. ``uid = uid`` and ``count(*) > 0`` (true for every
    id and group; a NULL id has no number anyway) make DuckDB estimate the ids few, so that
    it hashes them and filters the scan of the numbers by them instead of hashing the
    project's every number (~50 ms more at 1M users; one filter was not enough once the
    ids came from four scans of the events, as for ``periods_sql``)."""
    p = scope.param
    ids = (
        f"(SELECT {p(scope.project_id)} AS project_id, uid, "
        f"hash({p(scope.project_id)}, uid) AS h FROM ev WHERE uid = uid "
        "GROUP BY ALL HAVING count(*) > 0)"
    )
    return (
        f"    SELECT uid, num FROM ({found_sql(ids, 'i.project_id')})\n"
        "    UNION ALL\n"
        "    SELECT uid, num FROM user_numbers "
        f"WHERE uk IS NULL AND project_id = {p(scope.project_id)}"
    )


def _identity_keys(scope: Scope) -> str:
    """``ik``: the identity map by numbers (one row per previous id's number)."""
    return (
        "ik AS (\n"
        "  SELECT num AS pk, to_num AS rk FROM user_aliases "
        f"WHERE project_id = {scope.param(scope.project_id)}\n)"
    )


def reduced(scope: Scope, hours: tuple[datetime, datetime], bucket: str) -> str:
    """For ``/stats``, as ``Scope.reduced_base``: ``k`` with (``b``: ``bucket``, an
    expression over ``lts``; ``name``; ``n``) and the user columns ``distinct_sql`` counts.
    Not reduced further: stored rows are already one per hour, event and user (grouping
    them by day would cost more than the counts it spares)."""
    return f"{base_cte(scope, hours)},\nk AS (SELECT {bucket} AS b, name, n, u, x FROM base)"


def base_cte(scope: Scope, hours: tuple[datetime, datetime], *, by: str | None = None) -> str:
    """``base``: (lts, name, n, and the resolved user as ``distinct_sql`` counts it: ``u``
    its number up to the project's highest the engine knows (``Scope.user_range``), else
    ``x``, a text key distinct from every other user's) for every event of the period; and
    the column ``by`` as ``rows_cte`` reads it."""
    top = scope.user_range
    sql = rows_cte(scope, hours, by=by)
    user, rows = "ub.u", "ub"
    if scope.identities:
        sql = f"{sql},\n{_identity_keys(scope)}"
        user, rows = "coalesce(ik.rk, ub.u)", "ub LEFT JOIN ik ON ik.pk = ub.u"
    users = f"{user} AS u, ub.rid AS x"
    if top:
        # the raw id first: most rows have neither, and are then spared both concatenations
        users = (
            f"CASE WHEN {user} <= {top} THEN {user} END AS u, CASE WHEN ub.rid IS NOT NULL "
            f"THEN 'r' || ub.rid WHEN {user} > {top} THEN 'n' || CAST({user} AS VARCHAR) END AS x"
        )
    value = "" if by is None else f", ub.{by}"
    return f"{sql},\nbase AS (\n  SELECT ub.lts, ub.name{value}, ub.n, {users} FROM {rows}\n)"


def distinct_sql(scope: Scope, groups: int) -> str:
    """The distinct users of ``base`` rows, in a statement of about ``groups`` groups: a
    bitmap of the numbers when they fit ``BITMAP_BITS``, else a distinct count; plus the
    users counted apart."""
    if fits(scope, groups):
        numbers = f"coalesce(bit_count(bitstring_agg(u, 1, {scope.user_range})), 0)"
    else:
        numbers = "count(DISTINCT u)"
    # the few users counted apart as a list, not ``count(DISTINCT x)``: a distinct aggregate
    # beside the bitmap made DuckDB materialize every row once more (/heatmap ~89 -> ~77 ms)
    return f"{numbers} + coalesce(list_unique(list(x) FILTER (WHERE x IS NOT NULL)), 0)"


def activity_sql(scope: Scope, hours: tuple[datetime, datetime], bucket: str, label: str) -> str:
    """``/stats``' three parts (as ``reports.activity_sql``: 0 totals, 1 per ``bucket``
    rendered by ``label``, 2 per event name) from one grouping: a bitmap per (bucket, event
    name), merged by ``bit_or`` for the totals, each bucket and each name, then resolved
    through the identity map (``_resolved_users``). One pass over the rows, which are read
    once and not joined to the map one by one (10M events, 7 days: ~100 -> ~70 -> ~50 ms);
    the caller checks that the bitmaps fit (``fits``, with the pairs there are at most)."""
    top = scope.user_range

    def merged(key: str) -> str:  # a part's events, bitmap, numbers past it and raw ids
        return (
            f"SELECT {key}, sum(n) AS n, bit_or(bits) AS bits, flatten(list(hi)) AS hi, "
            "len(list_distinct(flatten(list(r)))) AS r FROM g"
        )

    return (
        f"WITH {rows_cte(scope, hours)},\n{_identity_map(scope)},\n"
        f"g AS (SELECT {bucket} AS b, name, sum(n) AS n, bitstring_agg(u, 1, {top}) "
        f"FILTER (WHERE u <= {top}) AS bits, list(u) FILTER (WHERE u > {top}) AS hi, "
        "list(rid) FILTER (WHERE rid IS NOT NULL) AS r FROM ub GROUP BY b, name),\n"
        "parts AS (\n"
        f"  {merged('0 AS part, NULL AS b, NULL AS name')}\n"
        f"  UNION ALL {merged('1, b, NULL')} GROUP BY b\n"
        f"  UNION ALL {merged('2, NULL, name')} GROUP BY name\n),\n"
        f"{_resolved_users(top, ['part', 'b', 'name'], 'parts')}"
        f"SELECT part, {label} AS bucket, name, users, n FROM counted"
    )


def periods_sql(scope: Scope, cut: datetime) -> str | None:
    """Events and distinct users on each side of ``cut`` (naive UTC) in one statement: rows
    (``p``: at or after the cut, ``m0`` events, ``m1`` users), a side without events left
    out. For ``/insights``, whose two periods meet at the cut. None when the summary cannot
    answer. Users are resolved through the identity map on the bitmaps
    (``_resolved_users``)."""
    hours = usable(scope)
    top = scope.user_range
    if hours is None or not fragments.cut_fits(hours, cut) or not fits(scope, 4):
        return None
    # one pass over the rows (``ub`` is read once): per side its events, bitmap, numbers past
    # the bitmap's range and raw ids (both few, as lists: a distinct aggregate beside the
    # bitmap would make DuckDB materialize the rows once more)
    return (
        f"WITH {rows_cte(scope, hours, cut)},\n{_identity_map(scope)},\n"
        f"g AS (SELECT p, sum(n) AS n, bitstring_agg(u, 1, {top}) FILTER (WHERE u <= {top}) "
        f"AS bits, list(u) FILTER (WHERE u > {top}) AS hi, "
        "list_unique(list(rid) FILTER (WHERE rid IS NOT NULL)) AS r FROM ub GROUP BY p),\n"
        f"{_resolved_users(top, ['p'], 'g')}"
        "SELECT p, n AS m0, users AS m1 FROM counted"
    )


def _identity_map(scope: Scope) -> str:
    """``ik``, empty when the project has no identities."""
    if scope.identities:
        return _identity_keys(scope)
    return "ik AS (SELECT 0 AS pk, 0 AS rk WHERE false)"


def _resolved_users(top: int, keys: list[str], source: str) -> str:
    """CTEs ending in ``counted``: per row of ``source`` (``keys``; ``n`` events; ``bits``, a
    bitmap of user numbers up to ``top``; ``hi``, a list of the numbers past it; ``r``, how
    many raw ids without a number), ``n`` and its ``users`` resolved through the identity
    map ``ik``.

    On the bitmaps instead of row by row (joining every row to the map cost as much as the
    rest of the statement): with ``b`` the numbers and ``A`` those the map resolves to
    another, the users are ``b & ~A``, plus the numbers ``A``'s members in ``b`` resolve to,
    plus the numbers past the bitmap's range (resolved row by row: few), each counted once,
    plus the raw ids."""

    def bit(bits: str, num: str) -> str:  # a number's bit, NULL past the range
        return f"CASE WHEN {num} <= {top} THEN get_bit({bits}, CAST({num} AS INTEGER) - 1) END"

    def cols(alias: str) -> str:
        return ", ".join(f"{alias}.{k}" for k in keys)

    def same(left: str, right: str) -> str:
        return " AND ".join(f"{left}.{k} IS NOT DISTINCT FROM {right}.{k}" for k in keys)

    return (
        f"a AS (SELECT bitstring_agg(pk, 1, {top}) FILTER (WHERE pk <= {top}) AS ab FROM ik),\n"
        f"c AS (SELECT s.*, CASE WHEN a.ab IS NULL OR s.bits IS NULL THEN s.bits "
        f"ELSE s.bits & ~a.ab END AS cb FROM {source} AS s, a),\n"
        # the map's members in any row, before trying each row's bitmap
        f"im AS (SELECT ik.* FROM ik, (SELECT bit_or(bits) AS bits FROM c) AS o "
        f"WHERE {bit('o.bits', 'ik.pk')} = 1),\n"
        f"ex AS (SELECT {cols('c')}, im.rk AS v FROM c JOIN im ON {bit('c.bits', 'im.pk')} = 1\n"
        f"  UNION SELECT {cols('h')}, coalesce(ik.rk, h.u) FROM "
        f"(SELECT {cols('c')}, unnest(c.hi) AS u FROM c) AS h LEFT JOIN ik ON ik.pk = h.u),\n"
        # each row's candidates as one list, tested against its bitmap in a lambda: joined
        # row by row, every candidate carried a copy of the bitmap (~125 KB at 1M users;
        # /insights' users ~76 -> ~48 ms)
        f"xk AS (SELECT {cols('c')}, len(list_filter(e.vs, lambda v: "
        f"coalesce({bit('c.cb', 'v')}, 0) = 0)) AS k FROM c JOIN "
        f"(SELECT {cols('ex')}, list(ex.v) AS vs FROM ex GROUP BY ALL) AS e ON {same('c', 'e')}),\n"
        f"counted AS (SELECT {cols('c')}, c.n, coalesce(bit_count(c.cb), 0) + coalesce(xk.k, 0) "
        f"+ coalesce(c.r, 0) AS users FROM c LEFT JOIN xk ON {same('c', 'xk')})\n"
    )


def fits(scope: Scope, groups: int) -> bool:
    """Whether ``groups`` bitmaps of the project's numbers fit ``BITMAP_BITS``."""
    return bool(scope.user_range) and groups * scope.user_range <= BITMAP_BITS


def names_sql(scope: Scope, hours: tuple[datetime, datetime]) -> str:
    """``names``: how many event names the hourly rollup has in the period's whole hours
    (a bound for ``activity_sql``'s bitmaps; the edge hours may add a few)."""
    p = scope.param
    return (
        "SELECT count(DISTINCT name) AS names FROM rollup_hourly WHERE "
        f"project_id = {p(scope.project_id)} AND hour >= {p(hours[0])} AND hour < {p(hours[1])} "
        "AND dim = ''"
    )


def buckets(scope: Scope, unit: str) -> int:
    """At most how many ``unit`` buckets the scope's period touches."""
    hours = (scope.period.end - scope.period.start).total_seconds() / 3600
    return math.ceil(hours / _HOURS[unit]) + 1


def groups(scope: Scope, dimensions: Sequence[str], interval: str = "day") -> int:
    """At most how many groups a grouping by ``dimensions`` makes (by event name:
    ``NAME_GROUPS``)."""
    out = 1
    for d in dimensions:
        if d == "event":
            out *= NAME_GROUPS
        else:
            unit = interval if d == "date" else _TIME_DIMENSIONS[d]
            out *= buckets(scope, unit) if unit in _HOURS else 1_000
    return out


def metric_sql(scope: Scope, name: str, groups: int) -> str:
    """The metrics over ``base`` rows that carry ``n`` events."""
    if name == "unique_users":
        return distinct_sql(scope, groups)
    return {
        "event_count": "coalesce(sum(n), 0)",
        "pageviews": f"coalesce(sum(n) FILTER (WHERE name = '{PAGE_VIEW}'), 0)",
    }[name]


def query_sql(scope: Scope, spec: QuerySpec) -> str | None:
    """The SQL of a query for event counts, page views and unique users by time and event
    from the summary, as ``build.build`` would answer it; None when it cannot be."""
    if "unique_users" not in spec.metrics or not set(spec.metrics) <= METRICS:
        return None
    if spec.count_mode == "raw":
        return None
    if any(d not in _TIME_DIMENSIONS and d != "event" for d in spec.group_by):
        return None
    hours = usable(scope)
    if hours is None:
        return None
    inner, dims = group_keys(scope.dialect, spec)
    size = groups(scope, spec.group_by, spec.interval)
    measures = [f"{metric_sql(scope, m, size)} AS m{i}" for i, m in enumerate(spec.metrics)]
    body = f"SELECT {', '.join([*dims, *measures])} FROM base"
    return f"WITH {base_cte(scope, hours)}\n{grouped(scope.dialect, spec, inner, body)}"
