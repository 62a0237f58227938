"""``/breakdown``: a property's top values with their events and distinct users.

Three ways to the same rows (value, events, users), the most events first:

* a column the embedded store keeps users per hour and value of (``dim_hourly``, by
  ``path``; ``storage/duckdb/dims.py``): ``dims_sql``, the stored rows of the period's
  whole UTC hours plus the events it does not hold (``users.rows_cte``). The events per value
  are summed for every value; the users, as bitmaps of their numbers, only for the ``limit``
  values shown, so the bitmaps stay few however many values there are;
* a materialized key of the JSON properties: its summary (``query/properties.py``);
* anything else: the query model over the events (``build.build``), which also asks the
  store to materialize a property key for the next time.
"""

from __future__ import annotations

from typing import Any

from agentlytics.model.project import Project
from agentlytics.query import properties as summaries
from agentlytics.query import users
from agentlytics.query.build import Scope
from agentlytics.query.engine import QueryEngine, clean
from agentlytics.query.fragments import utc_hours
from agentlytics.query.model import DIMENSIONS, MAX_LIMIT, Filter, QuerySpec, check_property_key
from agentlytics.query.period import Period

#: breakdown properties that are real columns rather than keys of ``properties``
COLUMN_PROPERTIES = {
    "country": "country",
    "path": "path",
    "referrer": "referrer",
    "browser": "browser",
    "os": "os",
    "device": "device",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_term": "utm_term",
    "utm_content": "utm_content",
    "language": "language",
    "host": "host",
    "environment": "environment",
    "source": "source",
    "tool": "tool",
    "client": "client",
}


def breakdown(
    engine: QueryEngine,
    project: Project,
    period: Period,
    *,
    prop: str,
    event: str | None,
    limit: int,
) -> dict[str, Any]:
    group = COLUMN_PROPERTIES.get(prop) or "properties." + check_property_key(prop)
    filters = [Filter("event", "eq", event)] if event else []
    total, (rows, truncated) = engine.together(
        lambda: engine.one(project, period, ["event_count"], filters=filters)["event_count"],
        lambda: _rows(engine, project, period, group, filters, limit),
    )
    values = [r for r in rows if r[group] is not None and r[group] != ""]
    return {
        "project": project.name,
        "property": prop,
        "event": event,
        "values": [
            {"value": clean(r[group]), "count": r["event_count"], "unique_users": r["unique_users"]}
            for r in values[:limit]
        ],
        "total_events": total or 0,
        "total_with_property": sum(r["event_count"] for r in values),
        "truncated": len(values) > limit or truncated,
    }


def dims_sql(scope: Scope, column: str, limit: int) -> str | None:
    """Rows (g0: the value of ``column``, m0: events, m1: distinct resolved users, NULL past
    the first ``limit`` rows) as ``build.build`` answers a breakdown by it, without the events
    that lack a value, the most events first, at most ``MAX_LIMIT`` + 1; None when the store
    keeps no users per value of the column, or the scope has other filters than on the event
    name."""
    if column not in scope.dim_columns or not users.names_only(scope):
        return None
    hours = utc_hours(scope)  # no time bucket: every zone is served
    if hours[0] >= hours[1]:
        return None
    # the events per value from the stored rows and the edges' events as they are: ``base``
    # (users looked up and resolved) is read once, by the users of the values shown
    base = users.base_cte(scope, hours, by=column)
    counted = (
        f"SELECT r.{column}, r.events AS n FROM dim_hourly r "
        f"WHERE {users.stored_where(scope, hours, by=column)}\n"
        f"  UNION ALL SELECT {column}, 1 FROM ev"
    )
    return (
        f"WITH {base},\n"
        f"c AS (SELECT {column} AS g0, sum(n) AS m0 FROM (\n  {counted}\n) AS a GROUP BY g0),\n"
        f"t AS (SELECT g0 FROM c ORDER BY m0 DESC, g0 LIMIT {int(limit)}),\n"
        f"u AS (SELECT {column} AS g0, {users.distinct_sql(scope, limit)} AS m1 FROM base\n"
        f"  WHERE {column} IN (SELECT g0 FROM t) GROUP BY g0)\n"
        "SELECT c.g0, c.m0, u.m1 FROM c LEFT JOIN u ON u.g0 = c.g0\n"
        f"ORDER BY c.m0 DESC, c.g0 LIMIT {MAX_LIMIT + 1}"
    )


def _rows(
    engine: QueryEngine,
    project: Project,
    period: Period,
    group: str,
    filters: list[Filter],
    limit: int,
) -> tuple[list[dict[str, Any]], bool]:
    """The (``group`` value, event_count, unique_users) rows of a breakdown, the most events
    first, and whether there were more than ``MAX_LIMIT``; users are needed for the first
    ``limit`` rows only.

    A property key the store has materialized is read from its summary; any other key is
    asked to be materialized (the store does it in the background), so the next breakdown
    by it is.
    """
    key = group.removeprefix("properties.")
    scope = engine.scope(project, period, filters)
    if key != group:
        sql = summaries.breakdown_sql(scope, key, MAX_LIMIT)
    else:
        sql = dims_sql(scope, DIMENSIONS[group].column, limit)
    if sql is not None:
        raw = engine.fetch(scope, sql)
        rows = [{group: r["g0"], "event_count": r["m0"], "unique_users": r["m1"]} for r in raw]
        return rows[:MAX_LIMIT], len(rows) > MAX_LIMIT
    if key != group:
        engine.materialize(project.id, key)
    spec = QuerySpec(
        metrics=["event_count", "unique_users"], group_by=[group], filters=filters, limit=MAX_LIMIT
    )
    # Events without a value are dropped by the caller, so the scan may skip them up front:
    # for a property key, those whose JSON cannot hold the key are never parsed.
    F = engine.dialect
    if key != group and F.may_have_key is not None:
        where = F.may_have_key("e.properties", key)
    elif key != group:
        where = ""
    else:
        column = f"e.{DIMENSIONS[group].column}"
        where = f"{column} IS NOT NULL AND {F.to_text(column)} <> ''"
    result = engine.run(project, spec, period, where=where)
    return result.rows, result.truncated
