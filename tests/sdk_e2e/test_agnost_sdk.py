"""The real Agnost SDK (`agnost-mcp` from PyPI) pointed at agentlytics: its sessions and tool
calls land in the project whose write key is the org id, and are read back through the API.

agnost-mcp 0.2.0 patches mcp 1.x internals that mcp 2 no longer has, so the server is wrapped
in `FastMCPFacade` (agnost_bridge.py), which offers those internals and nothing more; what is
sent, how and when is agnost-mcp's own code. Where an interpreter with mcp 1.x and agnost-mcp
is at hand (`E2E_MCP1_PYTHON=/path/to/python`), a second test runs agnost-mcp unchanged, as its
README shows, on a FastMCP server over stdio.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

import agnost_mcp  # type: ignore[import-untyped]  # no py.typed
import anyio
import httpx2
import pytest
from mcp import Client as McpClient
from mcp import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import Implementation

from agentlytics.model.event import MCP_CALL, MCP_SESSION
from tests.sdk_e2e.agnost_bridge import FastMCPFacade
from tests.sdk_e2e.mcp_app import TOOLS, build_server
from tests.sdk_e2e.support import Reader, serve, wait_for

CLIENT_INFO = Implementation(name="e2e-client", version="1.2")
CALLS = {"field": "event", "op": "eq", "value": MCP_CALL}
MCP1_PYTHON = os.environ.get("E2E_MCP1_PYTHON")
MCP1_APP = os.path.join(os.path.dirname(__file__), "agnost_mcp1_app.py")


def identify(request: Any, env: Mapping[str, str] | None) -> dict[str, Any]:
    """As in Agnost's README: the user from request headers, with a fallback."""
    headers = getattr(request, "headers", None) or {}
    user = headers.get("x-user-id") or "anonymous"
    return {"userId": user, "email": f"{user}@example.com", "role": "admin"}


@pytest.fixture
def agnost_shutdown() -> Iterator[None]:
    """agnost-mcp keeps one module-level client; drain and reset it after the test."""
    yield
    agnost_mcp.shutdown()


def test_agnost_mcp_sessions_and_calls_land_in_the_project(
    reader: Reader, agnost_shutdown: None
) -> None:
    server = build_server()
    config = agnost_mcp.config(endpoint=reader.server.url, identify=identify, log_level="WARNING")
    agnost_mcp.track(FastMCPFacade(server), reader.write_key, config)

    async def main(url: str) -> None:
        async with httpx2.AsyncClient(headers={"X-User-Id": "agnost-user"}) as http:
            transport = streamable_http_client(url + "/mcp", http_client=http)
            async with McpClient(transport, mode="legacy", client_info=CLIENT_INFO) as client:
                for i in range(3):
                    await client.call_tool("add", {"a": i, "b": 1})
                for text in ("one", "two"):
                    # long enough to take whole milliseconds: Agnost reports integer ms
                    await client.call_tool("digest", {"text": text, "rounds": 100_000})
                assert (await client.call_tool("explode", {"reason": "agnost"})).is_error

    with serve(server.streamable_http_app()) as url:
        anyio.run(main, url)
    agnost_mcp.shutdown()  # drains agnost-mcp's delivery threads; every POST was answered

    rows = reader.query(
        metrics=["call_count", "error_count", "p50_latency_ms"],
        group_by=["tool", "primitive_type", "client", "user_id"],
        filters=[CALLS],
        order_by="call_count",
    )
    assert [
        (
            r["tool"],
            r["primitive_type"],
            r["client"],
            r["user_id"],
            r["call_count"],
            r["error_count"],
        )
        for r in rows
    ] == [
        ("add", "tool", "e2e-client", "agnost-user", 3, 0),
        ("digest", "tool", "e2e-client", "agnost-user", 2, 0),
        ("explode", "tool", "e2e-client", "agnost-user", 1, 1),
    ]
    digest = next(r for r in rows if r["tool"] == "digest")
    assert digest["p50_latency_ms"] > 0

    [session] = reader.events(event=MCP_SESSION)
    assert session["user_id"] == "agnost-user"
    assert session["user_email"] == "agnost-user@example.com"
    assert session["properties"]["tools"] == TOOLS
    assert session["properties"]["user_data"] == {
        "userId": "agnost-user",
        "email": "agnost-user@example.com",
        "role": "admin",
    }
    sessions = reader.query(metrics=["call_count"], group_by=["mcp_session_id"], filters=[CALLS])
    assert sessions == [{"mcp_session_id": session["session_id"], "call_count": 6}]

    stored = reader.stored_mcp_calls()
    add = next(c for c in stored if c["primitive_name"] == "add")
    # Agnost sends the arguments as a JSON string, with the tool's name added
    assert json.loads(add["args"]) == {"tool": "add", "a": 0, "b": 1}
    explode = next(c for c in stored if c["primitive_name"] == "explode")
    assert explode["success"] is False
    assert "exploded: agnost" in explode["result"]

    overview = reader.mcp_servers()
    totals = overview["totals"]
    assert (totals["sessions"], totals["users"], totals["calls"], totals["errors"]) == (1, 1, 6, 1)
    assert [(t["tool"], t["calls"], t["errors"]) for t in overview["tools"]] == [
        ("add", 3, 0),
        ("digest", 2, 0),
        ("explode", 1, 1),
    ]


@pytest.mark.skipif(
    not MCP1_PYTHON,
    reason="set E2E_MCP1_PYTHON to a Python with 'mcp<2' and agnost-mcp to run agnost-mcp unchanged",
)
def test_agnost_mcp_unchanged_on_an_mcp1_server_over_stdio(reader: Reader) -> None:
    assert MCP1_PYTHON is not None
    params = StdioServerParameters(
        command=MCP1_PYTHON,
        args=[MCP1_APP],
        env={
            "AGNOST_ENDPOINT": reader.server.url,
            "AGNOST_ORG_ID": reader.write_key,
            "E2E_USER_ID": "mcp1-user",
        },
    )

    async def main() -> None:
        async with McpClient(params, mode="legacy", client_info=CLIENT_INFO) as client:
            await client.call_tool("add", {"a": 1, "b": 2})
            await client.call_tool("digest", {"text": "x", "rounds": 100_000})
            assert (await client.call_tool("explode", {"reason": "mcp1"})).is_error

    anyio.run(main)
    wait_for(lambda: reader.count(CALLS) == 3, "agnost-mcp's three calls")

    rows = reader.query(
        metrics=["call_count", "error_count"],
        group_by=["tool", "client", "user_id"],
        filters=[CALLS],
        order_by="call_count",
    )
    assert sorted((r["tool"], r["client"], r["user_id"], r["error_count"]) for r in rows) == [
        ("add", "e2e-client", "mcp1-user", 0),
        ("digest", "e2e-client", "mcp1-user", 0),
        ("explode", "e2e-client", "mcp1-user", 1),
    ]
    [session] = reader.events(event=MCP_SESSION)
    assert session["properties"]["tools"] == TOOLS
    assert session["properties"]["user_data"] == {"userId": "mcp1-user", "role": "admin"}
    assert reader.mcp_servers()["totals"]["sessions"] == 1
