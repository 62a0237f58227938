"""An MCP server's usage at a glance: the answer of ``GET /mcp-servers`` and of the MCP tool
``mcp_server_usage``.

Built from query-model queries over the MCP events that the SDK's ``instrument()`` and the
Agnost API record (``$mcp_session`` per client session, ``$mcp_call`` per tool, resource or
prompt call). A project is one MCP server (its write key is the Agnost org id). The answer::

    {
      "project": "weather-mcp",
      "period": {"from": "2026-11-01T00:00:00.000Z", "to": "2026-11-08T00:00:00.000Z"},
      "interval": "day",
      "filters": {"tool": null, "client": null},
      "totals": {"sessions": 12, "users": 5, "calls": 340, "errors": 7, "error_rate": 0.0206,
                 "avg_latency_ms": 41.2, "p50_latency_ms": 18.0, "p95_latency_ms": 160.5,
                 "p99_latency_ms": 410.0},
      "tools": [{"tool": "forecast", "primitive_type": "tool", "sessions": 11, "calls": 300,
                 "errors": 2, "error_rate": 0.0067, "avg_latency_ms": …, "p50_latency_ms": …,
                 "p95_latency_ms": …, "p99_latency_ms": …}, …],
      "clients": [{"client": "claude-desktop", "sessions": 9, "users": 4, "calls": …,
                   "errors": …, "error_rate": …, <latencies>}, …],
      "users": [{"user_id": "u-42", "sessions": 3, "calls": …, "errors": …, "error_rate": …,
                 <latencies>}, …],
      "time_series": [{"date": "2026-11-02", "sessions": 4, "calls": 120, "errors": 3,
                       "error_rate": 0.025, "p50_latency_ms": …, "p95_latency_ms": …}, …],
      "truncated": {"tools": false, "clients": false, "users": false, "time_series": false}
    }

``tools`` holds tools, resources (named by URI) and prompts, each with its ``primitive_type``.
Lists are ordered by calls, busiest first, ties by name; ``time_series`` by time, and a bucket
without MCP events is absent. ``sessions`` counts the distinct MCP sessions with any event in
the range; users are identity-resolved, and a session without a user counts as one user
under its session id (the SDK sends, and the Agnost API maps, it as ``anonymous_id``).
Counts are 0 where there were no calls; rates (0-1) and latencies (ms) are ``null`` there.
A ``tool`` filter keeps that tool's calls (and so the sessions and users that called it); a
``client`` filter keeps that client's sessions and calls.
"""

from __future__ import annotations

from typing import Any, Literal

from agentlytics.model.event import MCP_CALL
from agentlytics.model.project import Project
from agentlytics.query.engine import QueryEngine, QueryResult
from agentlytics.query.model import MAX_LIMIT, Filter, QuerySpec
from agentlytics.query.period import Period

Interval = Literal["hour", "day", "week", "month"]
INTERVALS: tuple[Interval, ...] = ("hour", "day", "week", "month")

# query-model metric -> name in the answer
CALLS = {"call_count": "calls", "error_count": "errors", "error_rate": "error_rate"}
LATENCY = {m: m for m in ("avg_latency_ms", "p50_latency_ms", "p95_latency_ms", "p99_latency_ms")}
SESSIONS = {"session_count": "sessions"}
USERS = {"unique_users": "users"}
COUNTS = frozenset({"call_count", "error_count", "session_count", "unique_users"})
SERIES = {
    **SESSIONS,
    **CALLS,
    "p50_latency_ms": "p50_latency_ms",
    "p95_latency_ms": "p95_latency_ms",
}


def default_interval(period: Period) -> Interval:
    """By the hour for a range of two days or less, else by the day."""
    return "hour" if period.days <= 2 else "day"


def mcp_overview(
    engine: QueryEngine,
    project: Project,
    period: Period,
    *,
    interval: Interval,
    limit: int,
    tool: str | None = None,
    client: str | None = None,
) -> dict[str, Any]:
    """Sessions, users, calls, errors and latency in total, per tool, per client, per user and
    over time (blocking: five queries; call from a worker thread).

    Raises:
        ValidationError: INVALID_LIMIT when ``limit`` is outside 1-1000 (the query model's
            check, as for ``POST /query``'s ``limit``). Its callers check first and answer
            their own way: ``GET /mcp-servers`` with ``400 INVALID_PARAMETER``, as every
            whole-number query parameter; the MCP tool with the SDK's argument error.
    """
    narrow = [Filter("tool", "eq", tool)] if tool else []
    if client:
        narrow.append(Filter("client", "eq", client))
    # Both $mcp_session and $mcp_call events carry source "mcp"; only calls name a tool.
    mcp_events = [Filter("source", "eq", "mcp"), *narrow]
    call_events = [Filter("event", "eq", MCP_CALL), *narrow]

    def run(
        metrics: dict[str, str], group_by: list[str], filters: list[Filter], top: bool = True
    ) -> QueryResult:
        spec = QuerySpec(
            metrics=list(metrics),
            group_by=group_by,
            filters=filters,
            interval=interval,
            order_by="call_count" if top else None,
            limit=limit if top else MAX_LIMIT,
        )
        result = engine.run(project, spec, period)
        rows = [
            {
                **{g: row[g] for g in group_by},
                **{out: _value(m, row[m]) for m, out in metrics.items()},
            }
            for row in result.rows
        ]
        return QueryResult(rows, result.truncated, result.period)

    [totals] = run({**SESSIONS, **USERS, **CALLS, **LATENCY}, [], mcp_events).rows
    tools = run({**SESSIONS, **CALLS, **LATENCY}, ["tool", "primitive_type"], call_events)
    clients = run({**SESSIONS, **USERS, **CALLS, **LATENCY}, ["client"], mcp_events)
    users = run({**SESSIONS, **CALLS, **LATENCY}, ["user_id"], mcp_events)
    series = run(SERIES, ["date"], mcp_events, top=False)
    return {
        "project": project.name,
        "period": period.as_json(),
        "interval": interval,
        "filters": {"tool": tool, "client": client},
        "totals": totals,
        "tools": tools.rows,
        "clients": clients.rows,
        "users": users.rows,
        "time_series": series.rows,
        "truncated": {
            "tools": tools.truncated,
            "clients": clients.truncated,
            "users": users.truncated,
            "time_series": series.truncated,
        },
    }


def _value(metric: str, value: Any) -> Any:
    # Counts are 0 over no events; rates and latencies stay null there.
    return (value or 0) if metric in COUNTS else value
