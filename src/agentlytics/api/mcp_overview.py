"""``GET /mcp-servers``: an MCP server's usage at a glance, for the HTTP API and the dashboard.

Parameters: ``project``, ``since``, ``until`` (as every read), ``interval`` (``hour``, ``day``,
``week`` or ``month``; default ``hour`` for a range of two days or less, else ``day``),
``limit`` (rows per list, 1-1000, default 20), ``tool`` and ``client`` (only that tool's or
client's usage). The answer is ``query.mcp_usage.mcp_overview``'s, plus ``project_context``.
"""

from __future__ import annotations

from typing import cast

from starlette.requests import Request
from starlette.responses import Response

from agentlytics.api.common import in_thread, services
from agentlytics.api.reads import int_param, read_project, with_context
from agentlytics.api.reads_more import choice_param
from agentlytics.query.mcp_usage import INTERVALS, Interval, default_interval, mcp_overview
from agentlytics.query.model import MAX_LIMIT

QUERY = {
    "project": "project name or id",
    "since": "start: YYYY-MM-DD, ISO datetime or shorthand (7d); default 7d",
    "until": "end (a date includes that whole day); default now",
    "interval": "time series bucket: hour, day, week or month; default by range",
    "limit": "rows per list (tools, clients, users), 1-1000, default 20",
    "tool": "only this tool's (resource's, prompt's) calls",
    "client": "only this MCP client's sessions and calls",
}


async def mcp_servers(request: Request) -> Response:
    project = read_project(request)
    q = request.query_params
    engine = services(request).query
    period = engine.period(project, q.get("since"), q.get("until"))
    interval = cast(
        Interval, choice_param(request, "interval", INTERVALS, default_interval(period))
    )
    limit = int_param(request, "limit", 20, 1, MAX_LIMIT)
    body = await in_thread(
        lambda: mcp_overview(
            engine,
            project,
            period,
            interval=interval,
            limit=limit,
            tool=q.get("tool") or None,
            client=q.get("client") or None,
        )
    )
    return with_context(request, project, body)
