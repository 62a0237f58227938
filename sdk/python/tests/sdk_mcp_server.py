"""The MCP server the instrumentation tests drive: two tools (one raises), a resource, a prompt.

Run as a script it serves stdio, instrumented with the env-configured default client, so
its events reach the server in `AGENTLYTICS_URL` when the process exits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.server.mcpserver import MCPServer

from agentlytics_sdk.mcp import instrument


def build_server() -> MCPServer:
    server = MCPServer("demo-server")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @server.tool()
    def explode(reason: str) -> str:
        """Always fails."""
        raise RuntimeError(f"exploded: {reason}")

    @server.resource("res://greeting")
    def greeting() -> str:
        return "hello"

    @server.prompt()
    def review(code: str) -> str:
        return f"Please review {code}"

    return server


def identify_from_env(request_context: Any, env: Mapping[str, str]) -> dict[str, Any]:
    return {"userId": env.get("DEMO_USER_ID", "anonymous"), "email": "dev@example.com"}


if __name__ == "__main__":
    instrument(build_server(), identify=identify_from_env).run("stdio")
