"""Events and distinct users read from the store's hourly users instead of every event (DuckDB).

The embedded store keeps ``user_hourly`` (``storage/duckdb/users.py``): events per UTC hour x
event name x raw user, the user as a 64-bit hash ``uk`` of its id. A period's (time, event,
user, events) rows are then

* the stored rows of the whole UTC hours inside it (events received before its watermark),
* plus the events of those hours received since, and of the partial hours at the edges,
  with the same key,

and users are resolved through the identity map by the same hash: the map's ~1 row per
identified visitor is hashed when read (a small join instead of a join of every event to the
map). Counting distinct 64-bit keys instead of user id strings is what makes this fast; the
answers equal the scan's (``tests/query/test_users.py``) up to 64-bit hash collisions.

Served from it: ``/stats``' totals, series and per-event counts (``reduced``), ``/query`` for
event counts, page views and unique users by time and event (``query_sql``, hence
``/insights``), ``/heatmap``, and ``/properties``' events and users per event name. Zones
whose offset is not whole hours (or changes off the hour), filters other than on the event
name, and other engines read the events instead.
"""

from __future__ import annotations

from datetime import datetime

from agentlytics.model.event import PAGE_VIEW
from agentlytics.query.build import _TIME_DIMENSIONS, Scope, group_keys, grouped
from agentlytics.query.fragments import whole_hours
from agentlytics.query.model import QuerySpec

_WATERMARK = "(SELECT watermark FROM rollup_state WHERE name = 'user_hourly')"
_RAW_KEY = (
    "CASE WHEN coalesce(e.user_id, e.anonymous_id) IS NOT NULL "
    "THEN hash(coalesce(e.user_id, e.anonymous_id)) END"
)
#: the metrics this module computes (over rows with ``n`` events)
METRICS = frozenset({"event_count", "unique_users", "pageviews"})


def usable(scope: Scope) -> tuple[datetime, datetime] | None:
    """The whole UTC hours the summary can answer for, when it can answer this scope."""
    if not scope.user_hours or scope.dialect.shift_local is None or not names_only(scope):
        return None
    return whole_hours(scope)


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


def rows_cte(scope: Scope, hours: tuple[datetime, datetime]) -> str:
    """``ub``: (lts, name, uk: the raw user's key, n: events) for every event of the period,
    from the summary for the whole hours and from the events for the rest."""
    p, local = scope.param, scope.local_time_sql
    first, last = hours
    start, end = scope.period.start_param, scope.period.end_param
    stored = " AND ".join(
        [
            f"r.project_id = {p(scope.project_id)}",
            f"r.hour >= {p(first)}",
            f"r.hour < {p(last)}",
            *name_filters(scope, "r.name"),
        ]
    )

    def events(low: datetime, high: datetime, more: str = "") -> str:
        conds = " AND ".join(
            [
                f"e.project_id = {p(scope.project_id)}",
                f"e.timestamp >= {p(low)}",
                f"e.timestamp < {p(high)}",
                *name_filters(scope, "e.name"),
            ]
        )
        return (
            f"  SELECT {local('e.timestamp')} AS lts, e.name, {_RAW_KEY} AS uk, 1 AS n "
            f"FROM events e WHERE {conds}{more}\n"
        )

    # three scans of the events, so that each is pruned by the timestamp zone maps
    return (
        "ub AS (\n"
        f"  SELECT {local('r.hour')} AS lts, r.name, r.uk, r.events AS n "
        f"FROM user_hourly r WHERE {stored}\n"
        f"  UNION ALL\n{events(start, first)}"
        f"  UNION ALL\n{events(last, end)}"
        f"  UNION ALL\n{events(first, last, f' AND e.received_at >= {_WATERMARK}')})"
    )


def _identity_keys(scope: Scope) -> str:
    """``ik``: the identity map by hashed ids (one row per hashed previous id)."""
    return (
        "ik AS (\n"
        "  SELECT hash(previous_id) AS pk, min(hash(user_id)) AS rk FROM identities "
        f"WHERE project_id = {scope.param(scope.project_id)} GROUP BY pk\n)"
    )


def reduced(scope: Scope, hours: tuple[datetime, datetime], bucket: str) -> tuple[str, str]:
    """For ``/stats``, as ``Scope.reduced_base``: ``k`` with (``b``: ``bucket``, an
    expression over ``lts``; ``name``; ``n``) and the resolved user's key. Not reduced
    further: stored rows are already one per hour, event and user (grouping them by day
    would cost more than the counts it spares)."""
    return (
        f"{base_cte(scope, hours)},\n"
        f"k AS (SELECT {bucket} AS b, name, n, uid AS user_key FROM base)"
    ), "user_key"


def base_cte(scope: Scope, hours: tuple[datetime, datetime]) -> str:
    """``base``: (lts, name, uid: the resolved user's key, n) for every event of the period."""
    sql = rows_cte(scope, hours)
    if scope.identities:
        return (
            f"{sql},\n{_identity_keys(scope)},\n"
            "base AS (\n  SELECT ub.lts, ub.name, coalesce(ik.rk, ub.uk) AS uid, ub.n "
            "FROM ub LEFT JOIN ik ON ik.pk = ub.uk\n)"
        )
    return f"{sql},\nbase AS (SELECT lts, name, uk AS uid, n FROM ub)"


def metric_sql(name: str) -> str:
    """The metrics over ``base`` rows that carry ``n`` events."""
    return {
        "event_count": "coalesce(sum(n), 0)",
        "unique_users": "count(DISTINCT uid)",
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
    measures = [f"{metric_sql(m)} AS m{i}" for i, m in enumerate(spec.metrics)]
    body = f"SELECT {', '.join([*dims, *measures])} FROM base"
    return f"WITH {base_cte(scope, hours)}\n{grouped(scope.dialect, spec, inner, body)}"
