# mypy: ignore-errors
# (it imports mcp 1.x, which the project's environment replaces with mcp 2)
"""An mcp 1.x FastMCP server tracked by agnost-mcp exactly as its README says (stdio).

Runs under an interpreter that has `mcp<2` and `agnost-mcp` (see test_agnost_sdk.py), with
`AGNOST_ENDPOINT` (our server) and `AGNOST_ORG_ID` (a project write key) in the environment.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import agnost_mcp
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError

mcp = FastMCP("e2e-mcp1-server")


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@mcp.tool()
def digest(text: str, rounds: int = 2000) -> str:
    """Hash `text` repeatedly."""
    data = text.encode()
    for _ in range(rounds):
        data = hashlib.sha256(data).digest()
    return data.hex()


@mcp.tool()
def explode(reason: str) -> str:
    """Always fails."""
    raise ToolError(f"exploded: {reason}")


def identify(request: Any, env: dict[str, str] | None) -> dict[str, Any]:
    return {"userId": (env or {}).get("E2E_USER_ID", "anonymous"), "role": "admin"}


if __name__ == "__main__":
    config = agnost_mcp.config(
        endpoint=os.environ["AGNOST_ENDPOINT"], identify=identify, log_level="WARNING"
    )
    agnost_mcp.track(mcp, os.environ["AGNOST_ORG_ID"], config)
    try:
        mcp.run("stdio")
    finally:
        agnost_mcp.shutdown()
