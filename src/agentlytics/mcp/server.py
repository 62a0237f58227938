"""The MCP server: every tool, on the services of one process.

Two ways in: Streamable HTTP at ``/mcp`` on the main app (:func:`mcp_routes`; stateless,
JSON responses, so any worker can answer any request), and stdio for ``agentlytics mcp``
(:func:`build_server` then ``run_stdio_async``).
"""

from __future__ import annotations

from typing import Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import BaseRoute, Route

from agentlytics import __version__
from agentlytics.app import Services
from agentlytics.mcp import (
    tools_convalytics,
    tools_experiments,
    tools_funnels,
    tools_query,
    tools_sites,
)
from agentlytics.mcp.auth import Admission, McpGate, ToolCallAuth, local_principal
from agentlytics.mcp.kit import Toolkit
from agentlytics.projects.service import Principal

SERVER_NAME = "agentlytics"
INSTRUCTIONS = (
    "Self-hosted product and MCP-server analytics. Start with list_projects; every other tool "
    "takes a `project` (name or id). weekly_digest and analytics_overview summarize a project; "
    "properties lists its event names and property keys before you query, breakdown or funnel "
    "on them. Tool calls need an API key (Authorization: Bearer aak_…)."
)
_LOG_LEVELS: dict[str, Literal["DEBUG", "INFO", "WARNING", "ERROR"]] = {
    "debug": "DEBUG",
    "info": "INFO",
    "warning": "WARNING",
    "error": "ERROR",
}
TOOL_MODULES = [tools_convalytics, tools_funnels, tools_sites, tools_query, tools_experiments]


def build_server(
    services: Services,
    *,
    admission: Admission | None = None,
    local_key: str | None = None,
    local: Principal | None = None,
) -> MCPServer[Any]:
    """An MCPServer with every tool. ``local_key``/``local`` name the caller on stdio."""
    kit = Toolkit(services)
    for module in TOOL_MODULES:
        module.register(kit)
    auth = ToolCallAuth(admission or Admission(services), local_key=local_key, local=local)
    return MCPServer(
        SERVER_NAME,
        version=__version__,
        instructions=INSTRUCTIONS,
        tools=kit.tools,
        middleware=[auth],
        log_level=_LOG_LEVELS.get(services.settings.log_level.lower(), "INFO"),
    )


def mcp_routes(services: Services) -> list[BaseRoute]:
    """``/mcp`` for the main app; registers the SDK session manager in its lifespan."""
    admission = Admission(services)
    server = build_server(services, admission=admission)
    server.streamable_http_app(
        json_response=True,
        stateless_http=True,
        max_request_body_size=services.settings.max_body_bytes,
        # tool calls need a secret key, which a rebinding page cannot have; and a public
        # server answers on hosts the SDK's loopback-only default would refuse
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    manager = server.session_manager
    services.lifespans.append(manager.run)
    return [Route("/mcp", endpoint=McpGate(manager.handle_request, admission))]


async def serve_stdio(services: Services, key: str | None) -> None:
    """Serve the tools over stdio on local stores, as ``key``'s account, or as the owner.

    Raises:
        AuthError: no key and no owner account in the data directory.
    """
    local = None if key else local_principal(services)
    server = build_server(services, local_key=key, local=local)
    try:
        await server.run_stdio_async()
    finally:
        await services.aclose()
