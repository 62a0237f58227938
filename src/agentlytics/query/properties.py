"""Property keys, and breakdowns by a materialized property key, read from the store's
property summaries instead of every event's JSON (DuckDB).

The embedded store keeps ``property_hourly`` (keys per UTC hour and event name) and
``property_values`` (the values of a project's materialized keys per hour, event name and
raw user), behind one watermark (``storage/duckdb/properties.py``). A period's answer is

* the stored rows of the whole UTC hours inside it (events received before the watermark),
* plus the events of those hours received since, and of the partial hours at the edges,
  their JSON read as the summaries read it,

so the JSON column is read only for those few hours. No local time is involved (neither
answer has a time bucket), so every zone is served. Same answers as the scan
(``tests/query/test_properties.py``); None (scan instead) for filters other than on the
event name, a key that is not materialized, and other engines.
"""

from __future__ import annotations

from datetime import datetime

from agentlytics.query.build import Scope
from agentlytics.query.fragments import utc_hours
from agentlytics.query.users import name_filters, names_only

_WATERMARK = "(SELECT watermark FROM rollup_state WHERE name = 'property_hourly')"
_RAW_USER = "coalesce(e.user_id, e.anonymous_id)"


def _usable(scope: Scope) -> bool:
    return scope.property_summaries and names_only(scope)


def _union(
    scope: Scope, stored: str, table: str, events: str, *, key: str | None = None, where: str = ""
) -> str:
    """The summary ``table``'s rows (``stored``, a SELECT list over ``r``; of ``key`` only,
    when given) of the whole hours, and the same shape from the events not in it: ``events``
    is the SELECT list over ``events e`` (and ``where`` one more condition on them), given
    rows of the period's edges and those received since the watermark (three scans, so that
    each is pruned by the timestamp zone maps)."""
    p = scope.param
    first, last = utc_hours(scope)
    start, end = scope.period.start_param, scope.period.end_param
    summary = " AND ".join(
        [
            f"r.project_id = {p(scope.project_id)}",
            *([f"r.key = {p(key)}"] if key is not None else []),
            f"r.hour >= {p(first)}",
            f"r.hour < {p(last)}",
            *name_filters(scope, "r.name"),
        ]
    )

    def raw(low: datetime, high: datetime, more: str = "") -> str:
        conds = " AND ".join(
            [
                f"e.project_id = {p(scope.project_id)}",
                f"e.timestamp >= {p(low)}",
                f"e.timestamp < {p(high)}",
                *name_filters(scope, "e.name"),
                *([where] if where else []),
            ]
        )
        return f"  SELECT {events} FROM events e WHERE {conds}{more}\n"

    return (
        f"  SELECT {stored} FROM {table} r WHERE {summary}\n"
        f"  UNION ALL\n{raw(start, first)}"
        f"  UNION ALL\n{raw(last, end)}"
        f"  UNION ALL\n{raw(first, last, f' AND e.received_at >= {_WATERMARK}')}"
    )


def keys_sql(scope: Scope) -> str | None:
    """(name, key): every top-level property key of the period's events, per event name;
    None when the summary cannot answer."""
    if not _usable(scope):
        return None
    rows = _union(
        scope,
        "r.name, r.key",
        "property_hourly",
        "e.name, unnest(try(json_keys(e.properties))) AS key",
    )
    return f"SELECT DISTINCT name, key FROM (\n{rows}) AS k ORDER BY name, key"


def breakdown_sql(scope: Scope, key: str, limit: int) -> str | None:
    """Rows (g0: the value of the checked property ``key``, m0: events, m1: distinct
    resolved users) as ``build.build`` answers a breakdown by it, without the events that
    lack a value, the most events first, at most ``limit`` + 1; None when the summary cannot
    answer (the key is not materialized, other filters)."""
    if not _usable(scope) or key not in scope.materialized:
        return None
    F, p = scope.dialect, scope.param

    assert F.may_have_key is not None  # the JSON that cannot hold the key is not parsed
    rows = _union(
        scope,
        "r.value AS g, r.uid, r.events AS n",
        "property_values",
        f"{F.prop('e.properties', key)} AS g, {_RAW_USER} AS uid, 1 AS n",
        key=key,
        where=F.may_have_key("e.properties", key),
    )
    user, join = "v.uid", ""
    if scope.identities:
        user = "coalesce(i.user_id, v.uid)"
        join = (
            f" LEFT JOIN {F.identities} i\n"
            f"  ON i.project_id = {p(scope.project_id)} AND i.previous_id = v.uid"
        )
    return (
        f"WITH v AS (\n{rows})\n"
        f"SELECT g AS g0, sum(n) AS m0, {F.count_distinct(user)} AS m1 FROM v{join}\n"
        f"WHERE g IS NOT NULL GROUP BY g0 ORDER BY m0 DESC, g0 LIMIT {int(limit) + 1}"
    )
