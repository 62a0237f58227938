"""The instrumentation on mcp 1.x (`FastMCP`), for code that has not moved to mcp 2.

Runs only where mcp<2 is installed (a CI matrix entry); mcp 2 has no `FastMCP`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from agentlytics_sdk import Client
from agentlytics_sdk.mcp import instrument

from sdk_loopback import LiveServer

pytestmark = pytest.mark.skipif(
    importlib.metadata.version("mcp").startswith(("0.", "2.", "3.")),
    reason="needs mcp 1.x (FastMCP)",
)


def test_fastmcp_sessions_and_calls_are_recorded(
    server: LiveServer, make_client: Callable[..., Client]
) -> None:
    fastmcp: Any = importlib.import_module("mcp.server.fastmcp")
    memory: Any = importlib.import_module("mcp.shared.memory")
    types: Any = importlib.import_module("mcp.types")

    mcp_server = fastmcp.FastMCP("v1-server")

    def add(a: int, b: int) -> int:
        return a + b

    def explode() -> str:
        raise fastmcp.exceptions.ToolError("no luck")

    def greeting() -> str:
        return "hello"

    def review(code: str) -> str:
        return f"Please review {code}"

    mcp_server.tool()(add)
    mcp_server.tool()(explode)
    mcp_server.resource("res://greeting")(greeting)
    mcp_server.prompt()(review)

    client = make_client()
    instrument(mcp_server, client=client, identify=lambda ctx, env: {"userId": "v1-user"})

    async def main() -> None:
        info = types.Implementation(name="v1-client", version="1.0")
        connect = memory.create_connected_server_and_client_session
        async with connect(mcp_server, client_info=info) as session:
            await session.list_tools()
            await session.call_tool("add", {"a": 2, "b": 3})
            await session.call_tool("explode", {})
            await session.read_resource("res://greeting")
            await session.get_prompt("review", {"code": "x"})

    anyio.run(main)
    assert client.flush(timeout=10)

    events = server.recorder.events()
    [session] = [e for e in events if e["event"] == "$mcp_session"]
    calls = [e for e in events if e["event"] == "$mcp_call"]
    assert session["client"] == "v1-client"
    assert session["properties"]["tools"] == ["add", "explode"]
    assert [(c["primitive_name"], c["success"], c["error"]) for c in calls] == [
        ("add", True, None),
        ("explode", False, "Error executing tool explode: no luck"),
        ("res://greeting", True, None),
        ("review", True, None),
    ]
    assert all(c["latency_ms"] > 0 and c["user_id"] == "v1-user" for c in calls)
    assert all(c["session_id"] == session["session_id"] for c in calls)
    assert json.loads(calls[0]["args"]) == {"a": 2, "b": 3}
