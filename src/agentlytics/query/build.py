"""Compile the query model to SQL for one dialect.

Every query starts from the same relation, ``base``: the project's events in the period, each
with its identity-resolved user (``uid``) and its time in the project's zone (``lts``). When a
query needs sessions, ``sb`` adds a session id (``sid``): the event's ``session_id``, or else a
new session after 30 minutes without an event from the same user.

Shortcuts keep this cheap at millions of events, with the same answers (docs/performance.md):
* a project that has never sent ``/identify`` has no identity map to join (``Scope.identities``
  is False; the engine checks per project and the store says when the map changes);
* only events without a ``session_id`` go through the window functions of the inactivity
  rule; the others take their ``session_id`` as they are;
* local time is UTC plus the zone's offsets over the period (``utc_offsets``), where the
  engine's own conversion is slow; time buckets are formatted once per output row;
* count-only queries read the store's hourly rollup when it can answer them
  (``rollup_cte``), plus the events it does not hold yet; unique users by time and event
  read the hourly users (``query/users.py``), sessions the fragments (``query/fragments.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agentlytics.model.event import MCP_CALL, PAGE_VIEW, PASSIVE_EVENTS
from agentlytics.query.dialect import Dialect
from agentlytics.query.model import DIMENSIONS, FILTER_FIELDS, METRICS, Filter, QuerySpec
from agentlytics.query.period import Period

SESSION_GAP_MS = 30 * 60 * 1000
_PASSIVE = ", ".join(f"'{name}'" for name in sorted(PASSIVE_EVENTS))
_TIME_DIMENSIONS = {"date": "day", "hour": "hour", "week": "week", "month": "month"}
_WINDOW = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"


@dataclass
class Scope:
    """What every query of one request shares: dialect, project, period, filters."""

    dialect: Dialect
    project_id: str
    period: Period
    filters: Sequence[Filter] = ()
    params: list[Any] = field(default_factory=list)
    #: False when the project has no identity map: ``uid`` is then the event's own id
    identities: bool = True
    #: the events columns the store's hourly rollup counts; None: no rollup to read
    rollup_dims: frozenset[str] | None = None
    #: the store keeps session fragments (``query/fragments.py``) that queries may read
    session_fragments: bool = False
    #: the store keeps events per hour, event and numbered user (``query/users.py``)
    user_hours: bool = False
    #: the project's highest user number as the store last knew it (``query/users.py``)
    user_range: int = 0
    #: the events columns the store keeps users per hour and value of (``query/breakdowns.py``)
    dim_columns: frozenset[str] = frozenset()
    #: the store keeps property keys per hour, and values of the project's ``materialized``
    #: keys (``query/properties.py``)
    property_summaries: bool = False
    materialized: frozenset[str] = frozenset()

    def param(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def column(self, name: str) -> str:
        """A filterable field as an expression over ``events e`` joined to ``i``."""
        F = self.dialect
        if name.startswith("properties."):
            return F.prop("e.properties", name.removeprefix("properties."))
        column = FILTER_FIELDS[name]
        if column == "uid":
            return self.user_sql()
        return f"e.{column}"

    def local_time_sql(self, col: str) -> str:
        """A UTC timestamp column of this period's events as local wall-clock time."""
        F = self.dialect
        if F.shift_local is not None:
            spans = utc_offsets(self.period.tz, self.period.start, self.period.end)
            if spans is not None:
                return F.shift_local(col, spans)
        return F.local_time(col, self.period.tz)

    def reduced_base(self, keys: Sequence[tuple[str, str]], extra: str = "") -> tuple[str, str]:
        """``base`` and ``k``: events reduced to one row per (``keys``, user) with a count
        ``n`` (and ``extra`` aggregates), users resolved through the identity map only after
        the reduction, so the map is joined to far fewer rows than there are events.

        ``keys`` are (expression over ``base``, alias) pairs. Returns (CTE text, the name of
        ``k``'s resolved-user column); ``k`` also has the aliases, ``n`` and ``extra``.
        """
        F = self.dialect
        resolve, self.identities = self.identities, False
        try:
            base = self.base_cte()
        finally:
            self.identities = resolve
        select = ", ".join([*(f"{expr} AS {alias}" for expr, alias in keys), "project_id", "uid"])
        group = ", ".join([*(alias for _, alias in keys), "project_id", "uid"])
        more = f", {extra}" if extra else ""
        sql = (
            f"{base},\nk0 AS (\n"
            f"  SELECT {select}, count(*) AS n{more} FROM base GROUP BY {group}\n)"
        )
        if resolve:
            sql += (
                f",\nk AS {F.materialized}(\n"
                f"  SELECT k0.*, coalesce({F.joined_user('i.user_id')}, k0.uid) AS user_key\n"
                f"  FROM k0 LEFT JOIN {F.identities} i\n"
                "    ON i.project_id = k0.project_id AND i.previous_id = k0.uid\n)"
            )
        else:
            sql += f",\nk AS {F.materialized}(SELECT k0.*, k0.uid AS user_key FROM k0)"
        return sql, "user_key"

    def identity_join(self) -> str:
        """``events e`` joined to the identity map ``i`` (for ``resolved_user``)."""
        return (
            f"  LEFT JOIN {self.dialect.identities} i\n"
            "    ON i.project_id = e.project_id\n"
            "    AND i.previous_id = coalesce(e.user_id, e.anonymous_id)\n"
        )

    def user_sql(self) -> str:
        """The identity-resolved user of ``events e`` (joined to ``i`` when there is a map)."""
        return resolved_user(self.dialect) if self.identities else _RAW_USER

    def filter_sql(self, f: Filter) -> str:
        test = self._filter_sql(f)
        F = self.dialect
        # a property test that needs the key present parses only the JSON that may hold it
        needs_key = f.value is not None and f.op not in ("neq", "not_contains")
        if F.may_have_key is not None and needs_key and f.field.startswith("properties."):
            key = f.field.removeprefix("properties.")
            return f"({F.may_have_key('e.properties', key)} AND {test})"
        return test

    def _filter_sql(self, f: Filter) -> str:
        F = self.dialect
        expr = self.column(f.field)
        numeric = f.op in ("gt", "lt", "gte", "lte") and f.field not in ("success",)
        if f.value is None:
            return f"{expr} IS NULL" if f.op == "eq" else f"{expr} IS NOT NULL"
        if f.op in ("contains", "not_contains"):
            test = F.contains(expr)
            self.param(str(f.value))
            return test if f.op == "contains" else f"NOT coalesce({test}, false)"
        if numeric:
            lhs = F.to_number(expr) if f.field.startswith("properties.") else expr
            op = {"gt": ">", "lt": "<", "gte": ">=", "lte": "<="}[f.op]
            return f"{lhs} {op} {self.param(float(f.value))}"
        value: Any = f.value
        if f.field == "success":
            value = bool(value) if not isinstance(value, str) else value.lower() == "true"
        elif not isinstance(value, str) and f.field.startswith("properties."):
            value = str(value).lower() if isinstance(value, bool) else _num_text(value)
        if f.op == "eq":
            return f"{expr} = {self.param(value)}"
        return f"({expr} IS NULL OR {expr} <> {self.param(value)})"

    def base_cte(
        self, *, where: str = "", sessions: bool = False, newest: int | None = None
    ) -> str:
        """``base`` (and ``sb`` with session ids when asked) as WITH clauses.

        ``newest``: only the newest that many events (by time, then id) are wanted; they are
        picked before the identity map is joined, so only those rows are resolved.
        """
        F = self.dialect
        conds = [
            f"e.project_id = {self.param(self.project_id)}",
            f"e.timestamp >= {self.param(self.period.start_param)}",
            f"e.timestamp < {self.param(self.period.end_param)}",
        ]
        conds += [self.filter_sql(f) for f in self.filters]
        if where:
            conds.append(where)
        source, condition = "events e", f"  WHERE {' AND '.join(conds)}\n"
        if newest is not None and not any(
            FILTER_FIELDS.get(f.field) == "uid" for f in self.filters
        ):
            source = (
                f"(SELECT * FROM events e WHERE {' AND '.join(conds)}\n"
                f"    ORDER BY e.timestamp DESC, e.event_id LIMIT {int(newest)}) e"
            )
            condition = ""
        join = self.identity_join() if self.identities else ""
        sql = (
            "base AS (\n"
            f"  SELECT e.*, {self.user_sql()} AS uid, {self.local_time_sql('e.timestamp')} AS lts\n"
            f"  FROM {source}\n{join}{condition})"
        )
        if sessions:
            sql += ",\n" + session_ctes(F)
        return sql


_RAW_USER = "coalesce(e.user_id, e.anonymous_id)"
_MAX_TRANSITIONS = 48


def utc_offsets(
    tz: str, start: datetime, end: datetime
) -> list[tuple[int, datetime | None]] | None:
    """The zone's UTC offsets (seconds) over [start, end) as spans [(offset, until)], each
    ``until`` a naive UTC instant where the next offset begins (None for the last span).
    None when there are too many changes to be worth spelling out."""
    zone = ZoneInfo(tz)

    def offset(at: datetime) -> int:
        delta = at.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    spans: list[tuple[int, datetime | None]] = []
    current, day = offset(start), start
    while day < end:
        following = min(day + timedelta(days=1), end)
        if offset(following) != current:
            # the change lies in (day, following]: bisect to the second
            low, high = day, following
            while high - low > timedelta(seconds=1):
                mid = low + (high - low) / 2
                if offset(mid) == current:
                    low = mid
                else:
                    high = mid
            change = high.replace(microsecond=0)
            spans.append((current, change.astimezone(UTC).replace(tzinfo=None)))
            if len(spans) > _MAX_TRANSITIONS:
                return None
            current = offset(change)
        day = following
    spans.append((current, None))
    return spans


def resolved_user(F: Dialect) -> str:
    return f"coalesce({F.joined_user('i.user_id')}, e.user_id, e.anonymous_id)"


def session_ctes(F: Dialect) -> str:
    """``sb``: ``base`` with ``sid``. Events with a ``session_id`` keep it; only the others go
    through the windows of the inactivity rule (``sa`` marks where such a session starts and
    a running sum numbers them per user), which spares sorting every event by user and time.
    Both halves have the columns of ``base``, then ``new_session`` and ``sid``."""
    window = f"(PARTITION BY uid ORDER BY timestamp {_WINDOW})"
    gap = f"{F.epoch_ms('timestamp')} - {F.epoch_ms(F.lag('timestamp', window))}"
    return (
        "sa AS (\n"
        f"  SELECT *, CASE WHEN {F.lag('timestamp', window)} IS NULL THEN 1\n"
        f"    WHEN {gap} > {SESSION_GAP_MS} THEN 1 ELSE 0 END AS new_session\n"
        "  FROM base WHERE session_id IS NULL\n),\n"
        "sb AS (\n"
        "  SELECT *, 0 AS new_session, session_id AS sid FROM base WHERE session_id IS NOT NULL\n"
        "  UNION ALL\n"
        f"  SELECT *, uid || '~' || {F.to_text(F.running_sum('new_session', window))} AS sid\n"
        "  FROM sa\n)"
    )


def dimension_sql(F: Dialect, name: str, interval: str = "day") -> str:
    if name.startswith("properties."):
        return F.prop("properties", name.removeprefix("properties."))
    if name in _TIME_DIMENSIONS:
        unit = interval if name == "date" else _TIME_DIMENSIONS[name]
        return F.format_bucket(unit, F.trunc(unit, "lts"))
    return DIMENSIONS[name].column


def event_metric_sql(F: Dialect, name: str, count_mode: str = "session_then_user") -> str:
    call = f"name = '{MCP_CALL}'"
    return {
        "event_count": "count(*)",
        "unique_users": F.count_distinct("uid" if count_mode != "raw" else "user_id"),
        "session_count": F.count_distinct("sid"),
        "pageviews": F.count_if(f"name = '{PAGE_VIEW}'"),
        "call_count": F.count_if(call),
        "error_count": F.count_if(f"{call} AND success = false"),
        "error_rate": (
            f"{F.count_if(f'{call} AND success = false')} * 1.0 / nullif({F.count_if(call)}, 0)"
        ),
        "avg_latency_ms": "avg(latency_ms)",
        "p50_latency_ms": F.quantile("latency_ms", 0.5),
        "p95_latency_ms": F.quantile("latency_ms", 0.95),
        "p99_latency_ms": F.quantile("latency_ms", 0.99),
    }[name]


#: metrics computed from the per-session relation ``s``
def session_metric_sql(F: Dialect, name: str) -> str:
    return {
        "event_count": "sum(n)",
        "unique_users": F.count_distinct("uid"),
        "session_count": "count(*)",
        "pageviews": "sum(pv)",
        "bounce_rate": "avg(CASE WHEN bounce THEN 1.0 ELSE 0.0 END)",
        "avg_duration": "avg(duration)",
    }[name]


def sessions_relation(F: Dialect, keys: Sequence[str]) -> str:
    """``s``: one row per (group keys, session)."""
    select_keys = "".join(f"{k}, " for k in keys)
    return (
        "s AS (\n"
        f"  SELECT {select_keys}sid, min(uid) AS uid, count(*) AS n, "
        f"{F.count_if(f'name = {chr(39)}{PAGE_VIEW}{chr(39)}')} AS pv,\n"
        f"    {F.all_true(f'name IN ({_PASSIVE})')} AS bounce,\n"
        f"    ({F.epoch_ms('max(timestamp)')} - {F.epoch_ms('min(timestamp)')}) / 1000.0"
        " AS duration\n"
        f"  FROM sb GROUP BY {select_keys}sid\n)"
    )


def needs_sessions(spec: QuerySpec) -> bool:
    return (
        any(METRICS[m].level == "session" or m == "session_count" for m in spec.metrics)
        or "session_id" in spec.group_by
    )


def build(scope: Scope, spec: QuerySpec, *, where: str = "") -> str:
    """SQL for a QuerySpec; parameters accumulate in ``scope.params``.

    ``where``: one more condition on ``events e``, for callers that know rows they can skip.
    """
    F = scope.dialect
    sessions = needs_sessions(spec)
    session_level = any(METRICS[m].level == "session" for m in spec.metrics)
    mcp_only = {"call_count", "error_count", "error_rate"} | {
        m for m in METRICS if m.endswith("latency_ms")
    }
    if session_level and mcp_only & set(spec.metrics):
        from agentlytics.errors import ValidationError

        raise ValidationError(
            "session metrics (bounce_rate, avg_duration) cannot be combined with MCP call "
            "metrics in one query; ask for them separately",
            code="INVALID_METRIC",
        )
    rollup = rollup_cte(scope, spec) if not where else None
    ctes = [rollup or scope.base_cte(sessions=sessions, where=where)]
    inner, dims = group_keys(F, spec)
    source = "sb" if sessions else "base"
    if session_level:
        ctes.append(f"keyed AS (SELECT *{''.join(', ' + d for d in dims)} FROM sb)")
        ctes.append(sessions_relation(F, inner).replace("FROM sb", "FROM keyed"))
        measures = [f"{session_metric_sql(F, m)} AS m{i}" for i, m in enumerate(spec.metrics)]
        body = f"SELECT {', '.join([*inner, *measures])} FROM s"
    else:
        metric = rollup_metric_sql if rollup else event_metric_sql
        measures = [f"{metric(F, m, spec.count_mode)} AS m{i}" for i, m in enumerate(spec.metrics)]
        body = f"SELECT {', '.join([*dims, *measures])} FROM {source}"
    return "WITH " + ",\n".join(ctes) + "\n" + grouped(F, spec, inner, body)


def group_keys(F: Dialect, spec: QuerySpec) -> tuple[list[str], list[str]]:
    """The grouping keys of a query's inner select and its key expressions (``<expr> AS
    <key>``): ``g<i>``, or ``t<i>`` for a time bucket, which is grouped as a timestamp and
    rendered as text once per output row by :func:`grouped`, not once per event (formatting
    every event cost more than the aggregation itself)."""
    inner = [f"t{i}" if d in _TIME_DIMENSIONS else f"g{i}" for i, d in enumerate(spec.group_by)]
    dims = [
        f"{bucket_sql(F, d, spec.interval)} AS {k}"
        for d, k in zip(spec.group_by, inner, strict=True)
    ]
    return inner, dims


def grouped(F: Dialect, spec: QuerySpec, inner: list[str], body: str) -> str:
    """``body`` (a select of the ``inner`` keys and the measures ``m<i>``) grouped, ordered
    and limited to one row past ``spec.limit``, with its time buckets rendered as ``g<i>``."""
    keys = [f"g{i}" for i in range(len(spec.group_by))]
    if inner:
        body += f" GROUP BY {', '.join(inner)}"
    body += f" ORDER BY {order_clause(spec, inner)} LIMIT {int(spec.limit) + 1}"
    if inner != keys:
        outer = [
            F.format_bucket(_unit(d, spec.interval), k) + f" AS g{i}" if k != f"g{i}" else k
            for i, (d, k) in enumerate(zip(spec.group_by, inner, strict=True))
        ]
        outer += [f"m{i}" for i in range(len(spec.metrics))]
        body = f"SELECT {', '.join(outer)} FROM ({body}) AS q ORDER BY {order_clause(spec, keys)}"
    return body


def _unit(name: str, interval: str) -> str:
    return interval if name == "date" else _TIME_DIMENSIONS[name]


def bucket_sql(F: Dialect, name: str, interval: str = "day") -> str:
    """A group-by dimension as its raw value: time dimensions as truncated local timestamps
    (``dimension_sql`` renders them as text)."""
    if name in _TIME_DIMENSIONS:
        return F.trunc(_unit(name, interval), "lts")
    return dimension_sql(F, name, interval)


#: metrics that are sums of event counts, which the hourly rollup holds exactly
ROLLUP_METRICS = frozenset({"event_count", "pageviews", "call_count", "error_count", "error_rate"})


def rollup_cte(scope: Scope, spec: QuerySpec) -> str | None:
    """``base`` for a count-only query, read mostly from the store's hourly rollup.

    Three disjoint parts, read in one snapshot: the rollup's rows for the whole UTC hours
    inside the period (they hold the events received before the watermark), the events of
    those hours received since, and the events of the partial hours at the period's edges;
    each part yields (lts, name, the one dimension asked for, n events, f failed calls).
    None when the query cannot be answered that way (other metrics, a property, two
    dimensions, a filter the rollup cannot apply, a zone whose offset is not whole hours):
    then ``base`` scans the events as usual, with the same answer.
    """
    F = scope.dialect
    if scope.rollup_dims is None or F.shift_local is None:
        return None
    if not set(spec.metrics) <= ROLLUP_METRICS:
        return None
    columns: set[str] = set()
    for name in spec.group_by:
        if name in _TIME_DIMENSIONS or name == "event":
            continue
        if name not in DIMENSIONS:
            return None
        columns.add(DIMENSIONS[name].column)
    for f in scope.filters:
        if f.op not in ("eq", "neq") or not isinstance(f.value, str):
            return None
        if f.field != "event":
            if f.field.startswith("properties.") or f.field not in FILTER_FIELDS:
                return None
            columns.add(FILTER_FIELDS[f.field])
    if len(columns) > 1 or not columns <= scope.rollup_dims:
        return None
    spans = utc_offsets(scope.period.tz, scope.period.start, scope.period.end)
    if spans is None or any(offset % 3600 for offset, _ in spans):
        return None
    start, end = scope.period.start_param, scope.period.end_param
    first = start.replace(minute=0, second=0, microsecond=0)
    first += timedelta(hours=1) if first < start else timedelta(0)
    last = end.replace(minute=0, second=0, microsecond=0)
    if first >= last:
        return None
    dim = next(iter(columns), "")

    def conds(name_col: str, dim_col: str) -> list[str]:
        out = []
        for f in scope.filters:
            col = name_col if f.field == "event" else dim_col
            if f.op == "eq":
                out.append(f"{col} = {scope.param(f.value)}")
            else:
                out.append(f"({col} IS NULL OR {col} <> {scope.param(f.value)})")
        return out

    failed = f"e.name = '{MCP_CALL}' AND e.success = false"
    rolled = [
        f"r.project_id = {scope.param(scope.project_id)}",
        f"r.hour >= {scope.param(first)}",
        f"r.hour < {scope.param(last)}",
        f"r.dim = '{dim}'",
        *conds("r.name", "r.value"),
    ]
    raw = [
        f"e.project_id = {scope.param(scope.project_id)}",
        f"e.timestamp >= {scope.param(start)}",
        f"e.timestamp < {scope.param(end)}",
        *conds("e.name", f"e.{dim}"),
        f"(e.timestamp < {scope.param(first)} OR e.timestamp >= {scope.param(last)} "
        "OR e.received_at >= (SELECT watermark FROM rollup_state WHERE name = 'rollup_hourly'))",
    ]
    r_dim, e_dim = (f", r.value AS {dim}", f", e.{dim}") if dim else ("", "")
    return (
        "base AS (\n"
        f"  SELECT {scope.local_time_sql('r.hour')} AS lts, r.name{r_dim}, r.events AS n, "
        "r.failures AS f\n"
        f"  FROM rollup_hourly r WHERE {' AND '.join(rolled)}\n"
        "  UNION ALL\n"
        f"  SELECT {scope.local_time_sql('e.timestamp')} AS lts, e.name{e_dim}, 1 AS n, "
        f"CASE WHEN {failed} THEN 1 ELSE 0 END AS f\n"
        f"  FROM events e WHERE {' AND '.join(raw)}\n)"
    )


def rollup_metric_sql(F: Dialect, name: str, count_mode: str = "session_then_user") -> str:
    """The count metrics over the rollup's ``base`` (rows carry counts ``n`` and ``f``)."""
    calls = F.sum_if("n", f"name = '{MCP_CALL}'")
    return {
        "event_count": "coalesce(sum(n), 0)",
        "pageviews": f"coalesce({F.sum_if('n', f'name = {chr(39)}{PAGE_VIEW}{chr(39)}')}, 0)",
        "call_count": f"coalesce({calls}, 0)",
        "error_count": "coalesce(sum(f), 0)",
        "error_rate": f"sum(f) * 1.0 / nullif({calls}, 0)",
    }[name]


def order_clause(spec: QuerySpec, keys: Sequence[str]) -> str:
    time_keys = [k for k, d in zip(keys, spec.group_by, strict=True) if d in _TIME_DIMENSIONS]
    if spec.order_by:
        if spec.order_by in spec.metrics:
            target = f"m{spec.metrics.index(spec.order_by)}"
        else:
            target = keys[spec.group_by.index(spec.order_by)]
        direction = spec.order.upper()
    elif time_keys:
        target, direction = time_keys[0], "ASC"
    else:
        target, direction = "m0", spec.order.upper()
    tiebreak = ", ".join(keys)
    return f"{target} {direction}" + (f", {tiebreak}" if tiebreak else "")


def _num_text(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
