"""``agentlytics mcp --url … --key …``: a stdio MCP server that relays to a running server.

DuckDB lets one process open a data directory, so while ``agentlytics serve`` runs, a local
client reaches the data through the server's ``/mcp``. The relay lists the remote tools as
they are and forwards each call with the key; the remote's answers, tool errors and JSON-RPC
errors (a bad key, the rate limit) come back unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server
from mcp_types import CallToolRequestParams, CallToolResult, ListToolsResult
from mcp_types import PaginatedRequestParams as Page

from agentlytics import __version__
from agentlytics.mcp.server import INSTRUCTIONS, SERVER_NAME

TIMEOUT = httpx2.Timeout(30.0, read=300.0)
Ctx = ServerRequestContext[Client]


def endpoint(url: str) -> str:
    """The ``/mcp`` endpoint of a server given by its base URL (or the endpoint itself)."""
    url = url.rstrip("/")
    return url if url.endswith("/mcp") else url + "/mcp"


@asynccontextmanager
async def remote(url: str, key: str) -> AsyncIterator[Client]:
    """A connected client of the server at ``url``, sending ``key`` on every request."""
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=TIMEOUT) as http,
        Client(streamable_http_client(endpoint(url), http_client=http)) as client,
    ):
        yield client


def relay_server(url: str, key: str) -> Server[Client]:
    """A low-level server whose lifespan holds the remote client its handlers forward to."""

    @asynccontextmanager
    async def lifespan(_: Server[Client]) -> AsyncIterator[Client]:
        async with remote(url, key) as client:
            yield client

    async def list_tools(ctx: Ctx, params: Page | None) -> ListToolsResult:
        return await ctx.lifespan_context.list_tools(cursor=params.cursor if params else None)

    async def call_tool(ctx: Ctx, params: CallToolRequestParams) -> CallToolResult:
        return await ctx.lifespan_context.call_tool(params.name, params.arguments or {})

    return Server(
        SERVER_NAME,
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve_stdio(url: str, key: str) -> None:
    server = relay_server(url, key)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())
