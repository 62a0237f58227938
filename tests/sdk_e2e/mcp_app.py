"""The MCP server the end-to-end tests drive: three tools (one raises), a resource, a prompt.

Run as a script it serves stdio, instrumented with the default client that
`AGENTLYTICS_WRITE_KEY` / `AGENTLYTICS_URL` configure; its events are delivered at exit.
`mcp_app.py http PORT` serves streamable HTTP instead, with a client that only sends when
it is flushed, so that what arrives was sent at shutdown.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping
from typing import Any

from agentlytics_sdk import Client
from agentlytics_sdk.mcp import instrument
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

TOOLS = ["add", "digest", "explode"]


def build_server() -> MCPServer:
    server = MCPServer("e2e-server")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @server.tool()
    def digest(text: str, rounds: int = 2000) -> str:
        """Hash `text` repeatedly: a call that takes measurable time without sleeping."""
        data = text.encode()
        for _ in range(rounds):
            data = hashlib.sha256(data).digest()
        return data.hex()

    @server.tool()
    def explode(reason: str) -> str:
        """Always fails, with a message the client sees."""
        raise ToolError(f"exploded: {reason}")

    @server.resource("res://greeting")
    def greeting() -> str:
        return "hello"

    @server.prompt()
    def review(code: str) -> str:
        return f"Please review {code}"

    return server


def identify(request_context: Any, env: Mapping[str, str]) -> dict[str, Any]:
    """The user from an HTTP request's `X-User-Id`, else from the environment."""
    request = getattr(request_context, "request", None)
    headers = getattr(request, "headers", None) or {}
    user = headers.get("x-user-id") or env.get("E2E_USER_ID") or "anonymous"
    return {"userId": user, "email": f"{user}@example.com"}


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        env = os.environ
        held = Client(env["AGENTLYTICS_WRITE_KEY"], env["AGENTLYTICS_URL"], flush_interval=3600)
        server = instrument(build_server(), client=held, identify=identify)
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        instrument(build_server(), identify=identify).run("stdio")
