"""The rest of what the HTTP API answers: the flexible query (its arguments are the query
model, schema and all), breakdowns, property discovery, sessions, entry/exit pages, insights,
the heatmap, the live view, and an instrumented MCP server's usage."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from agentlytics.mcp.args import ProjectRef, Since, Until
from agentlytics.mcp.kit import Toolkit, convert
from agentlytics.query import breakdowns, mcp_usage, reports
from agentlytics.query import insights as insights_q
from agentlytics.query import live as live_q
from agentlytics.query import sessions as sessions_q
from agentlytics.query.model import QuerySpec, query_schema

Limit = Annotated[int, Field(ge=1, le=1000, description="Rows to return.")]
_SPEC_FIELDS = frozenset(QuerySpec.__struct_fields__) - {"project"}


def query_tool_schema() -> dict[str, Any]:
    """The query model's JSON Schema (``GET /query/schema``) plus the ``project`` argument."""
    raw = query_schema()
    defs = dict(raw["$defs"])
    spec = defs.pop("QuerySpec")
    props = {k: v for k, v in spec["properties"].items() if k != "project"}
    return {
        "type": "object",
        "description": spec.get("description", ""),
        "properties": {
            "project": {"type": "string", "description": "Project name or id."},
            **props,
        },
        "required": ["project"],
        "additionalProperties": False,
        "$defs": defs,
    }


def register(kit: Toolkit) -> None:
    engine = kit.engine

    @kit.tool(title="Flexible query", schema=query_tool_schema())
    def query(
        project: str,
        metrics: list[str] | None = None,
        group_by: list[str] | None = None,
        filters: list[dict[str, Any]] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        interval: str | None = None,
        timezone: str | None = None,
        count_mode: str | None = None,
        order_by: str | None = None,
        order: str | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """Any metrics by any dimensions, filtered, over a date range (the POST /query model):
        e.g. metrics ["unique_users"] by group_by ["utm_source"], filters
        [{"field": "event", "op": "eq", "value": "signup"}]. Call properties first to learn the
        event names and property keys (group or filter on "properties.<key>")."""
        given = {k: v for k, v in locals().items() if k in _SPEC_FIELDS}
        spec = convert(given, QuerySpec)
        p = kit.project(project)
        result = engine.run(p, spec)
        return {
            "project": p.name,
            "period": result.period.as_json(),
            "metrics": spec.metrics,
            "group_by": spec.group_by,
            "rows": result.rows,
            "count": len(result.rows),
            "truncated": result.truncated,
        }

    @kit.tool(title="Breakdown by a property")
    def breakdown(
        project: ProjectRef,
        property: Annotated[
            str,
            Field(description="A property key, or a column: country, path, referrer, browser…"),
        ],
        event: Annotated[str | None, Field(description="Only events of this name.")] = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = 20,
    ) -> dict[str, Any]:
        """The top values of one property (or column), with event counts and unique users."""
        p = kit.project(project)
        period = engine.period(p, since, until)
        return breakdowns.breakdown(engine, p, period, prop=property, event=event, limit=limit)

    @kit.tool(title="Discover events and properties")
    def properties(project: ProjectRef, since: Since = None, until: Until = None) -> dict[str, Any]:
        """The event names a project receives (count, users, first and last seen) and every
        property key: what to query, break down or build a funnel on. Default: last 30 days."""
        p = kit.project(project)
        return reports.properties(engine, p, engine.period(p, since, until, default="30d"))

    @kit.tool(title="Sessions")
    def sessions(
        project: ProjectRef,
        since: Since = None,
        until: Until = None,
        user_id: Annotated[str | None, Field(description="Only this user's sessions.")] = None,
        is_bounce: Annotated[
            bool | None, Field(description="true: only bounces; false: only engaged.")
        ] = None,
        limit: Limit = 100,
    ) -> dict[str, Any]:
        """Sessions, newest first: user, start and end, duration, entry and exit page, event
        count, bounce (a session of only passive events such as page views)."""
        p = kit.project(project)
        period = engine.period(p, since, until)
        return sessions_q.list_sessions(
            engine, p, period, user_id=user_id, is_bounce=is_bounce, limit=limit
        )

    @kit.tool(title="Session length distribution")
    def session_distribution(
        project: ProjectRef, since: Since = None, until: Until = None
    ) -> dict[str, Any]:
        """How long sessions last: buckets with sessions, bounces and events, the median bucket
        and the share of engaged sessions (30 s or longer)."""
        p = kit.project(project)
        return sessions_q.distribution(engine, p, engine.period(p, since, until))

    @kit.tool(title="Entry and exit pages")
    def pages(
        project: ProjectRef,
        type: Annotated[
            Literal["entry", "exit", "both"], Field(description="Which pages.")
        ] = "entry",
        since: Since = None,
        until: Until = None,
        limit: Limit = 20,
    ) -> dict[str, Any]:
        """Pages sessions start (entry) or end (exit) on, with sessions, bounce rate, average
        duration and events."""
        p = kit.project(project)
        period = engine.period(p, since, until)
        return sessions_q.pages(engine, p, period, page_type=type, limit=limit)

    @kit.tool(title="Insights")
    def insights(
        project: ProjectRef,
        period: Annotated[
            Literal["1d", "7d", "14d", "30d", "90d"], Field(description="Period to compare.")
        ] = "7d",
    ) -> dict[str, Any]:
        """This period against the one before: events, users, sessions, bounce rate, duration
        with their changes, and whether the project is growing, stable or declining."""
        return insights_q.insights(engine, kit.project(project), period)

    @kit.tool(title="Activity heatmap")
    def heatmap(project: ProjectRef, since: Since = None, until: Until = None) -> dict[str, Any]:
        """Events and users by weekday and hour (UTC), with the peak, busiest day and hour."""
        return insights_q.heatmap(
            engine, kit.project(project), insights_q.heatmap_period(since, until)
        )

    @kit.tool(title="Live now")
    async def live(
        project: ProjectRef,
        window: Annotated[int, Field(ge=10, le=300, description="Seconds to look back.")] = 60,
    ) -> dict[str, Any]:
        """What is happening right now: active visitors and sessions, events per minute, top
        pages and events, and the newest events of the last `window` seconds."""
        p = kit.project(project)
        return {"project": p.name, **await live_q.snapshot(kit.services.coord, p.id, window)}

    @kit.tool(title="MCP server usage")
    def mcp_server_usage(
        project: ProjectRef,
        since: Since = None,
        until: Until = None,
        interval: Annotated[
            Literal["hour", "day", "week", "month"] | None,
            Field(description="Time series bucket. Default: hour up to two days, else day."),
        ] = None,
        limit: Limit = 20,
        tool: Annotated[str | None, Field(description="Only this tool.")] = None,
        client: Annotated[str | None, Field(description="Only this MCP client.")] = None,
    ) -> dict[str, Any]:
        """Usage of an MCP server instrumented with the SDK or Agnost (the GET /mcp-servers
        answer): sessions, users, calls, errors, error rate and avg/p50/p95/p99 latency in
        total, per tool (with its primitive type), per client, per user and over time."""
        p = kit.project(project)
        period = engine.period(p, since, until)
        return mcp_usage.mcp_overview(
            engine,
            p,
            period,
            interval=interval or mcp_usage.default_interval(period),
            limit=limit,
            tool=tool,
            client=client,
        )
