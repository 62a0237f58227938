"""An MCP server instrumented with `agentlytics_sdk.mcp.instrument`, driven by the real `mcp`
client over stdio (a subprocess) and over streamable HTTP (uvicorn on loopback); the calls are
then read back from the real server through /query, /events and /mcp-servers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from agentlytics_sdk.mcp import instrument
from mcp import Client as McpClient
from mcp import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import Implementation

from agentlytics.model.event import MCP_CALL, MCP_SESSION
from tests.conftest import free_port
from tests.sdk_e2e.conftest import Errors, MakeClient
from tests.sdk_e2e.mcp_app import TOOLS, build_server, identify
from tests.sdk_e2e.support import Reader, serve, wait_for

CLIENT_INFO = Implementation(name="e2e-client", version="1.2")
SCRIPT = Path(__file__).with_name("mcp_app.py")
CALLS = {"field": "event", "op": "eq", "value": MCP_CALL}
# (name, primitive type) -> (calls, failed calls), as `exercise` makes them
EXPECTED = {
    ("add", "tool"): (3, 0),
    ("digest", "tool"): (2, 0),
    ("explode", "tool"): (1, 1),
    ("res://greeting", "resource"): (1, 0),
    ("review", "prompt"): (1, 0),
}
N_CALLS = sum(calls for calls, _ in EXPECTED.values())


async def exercise(client: McpClient) -> None:
    for i in range(3):
        assert (await client.call_tool("add", {"a": i, "b": 1})).is_error is False
    for text in ("one", "two"):
        assert (await client.call_tool("digest", {"text": text})).is_error is False
    assert (await client.call_tool("explode", {"reason": "e2e"})).is_error is True
    await client.read_resource("res://greeting")
    await client.get_prompt("review", {"code": "x = 1"})


def assert_recorded(reader: Reader, user: str) -> None:
    """What `exercise` did, read back through the API: one session, every call, as made."""
    rows = reader.query(
        metrics=["call_count", "error_count", "avg_latency_ms", "p50_latency_ms"],
        group_by=["tool", "primitive_type"],
        filters=[CALLS],
    )
    assert {
        (r["tool"], r["primitive_type"]): (r["call_count"], r["error_count"]) for r in rows
    } == (EXPECTED)
    assert all(r["avg_latency_ms"] > 0 and r["p50_latency_ms"] > 0 for r in rows)
    # every single call has a latency above zero
    assert reader.count(CALLS, {"field": "latency_ms", "op": "gt", "value": 0}) == N_CALLS
    failed = reader.query(
        metrics=["call_count"],
        group_by=["tool"],
        filters=[CALLS, {"field": "success", "op": "eq", "value": False}],
    )
    assert failed == [{"tool": "explode", "call_count": 1}]

    [session] = reader.events(event=MCP_SESSION)
    props = session["properties"]
    assert (props["tools"], props["client_version"], props["server"]) == (
        TOOLS,
        "1.2",
        "e2e-server",
    )
    assert props["user_data"] == {"userId": user, "email": f"{user}@example.com"}
    assert session["user_id"] == user
    by_session = reader.query(
        metrics=["call_count"], group_by=["mcp_session_id", "client", "user_id"], filters=[CALLS]
    )
    assert by_session == [
        {
            "mcp_session_id": session["session_id"],
            "client": "e2e-client",
            "user_id": user,
            "call_count": N_CALLS,
        }
    ]

    overview = reader.mcp_servers()
    totals = overview["totals"]
    assert (totals["sessions"], totals["users"], totals["calls"], totals["errors"]) == (
        1,
        1,
        N_CALLS,
        1,
    )
    assert totals["error_rate"] == round(1 / N_CALLS, 4)
    assert 0 < totals["p50_latency_ms"] <= totals["p95_latency_ms"] <= totals["p99_latency_ms"]
    assert [(c["client"], c["calls"]) for c in overview["clients"]] == [("e2e-client", N_CALLS)]
    assert [(u["user_id"], u["sessions"], u["calls"]) for u in overview["users"]] == [
        (user, 1, N_CALLS)
    ]

    # args, result and error are stored as sent (no read endpoint returns them)
    stored = {(c["primitive_name"], c["args"]): c for c in reader.stored_mcp_calls()}
    add = stored[("add", '{"a":0,"b":1}')]
    assert (add["success"], add["error"]) == (True, None)
    assert json.loads(add["result"])["structuredContent"] == {"result": 1}
    explode = stored[("explode", '{"reason":"e2e"}')]
    assert explode["success"] is False and not explode["result"]
    # MCPServer prefixes a ToolError's message; the client sees the same text
    assert explode["error"] == "Error executing tool explode: exploded: e2e"


def test_a_stdio_server_is_recorded(reader: Reader) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=[str(SCRIPT)],
        env={
            "AGENTLYTICS_WRITE_KEY": reader.write_key,
            "AGENTLYTICS_URL": reader.server.url,
            "E2E_USER_ID": "stdio-user",
        },
    )

    async def main() -> None:
        async with McpClient(params, client_info=CLIENT_INFO) as client:
            await exercise(client)

    anyio.run(main)
    # The server process delivers its events at exit, which the client does not wait for.
    wait_for(lambda: reader.count(CALLS) == N_CALLS, "the stdio server's calls")
    assert_recorded(reader, "stdio-user")


def test_a_streamable_http_server_stopped_by_sigterm_delivers_its_events(reader: Reader) -> None:
    """`run("streamable-http")` under uvicorn: SIGTERM ends in a graceful shutdown, then uvicorn
    raises the signal again and the process dies before `atexit` hooks; the server's lifespan
    ending is where `instrument()` flushes. The server's client holds everything until then."""
    port = free_port()
    env = {
        **os.environ,
        "AGENTLYTICS_WRITE_KEY": reader.write_key,
        "AGENTLYTICS_URL": reader.server.url,
        "E2E_USER_ID": "http-user",
    }
    child = subprocess.Popen(
        [sys.executable, str(SCRIPT), "http", str(port)], env=env, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: _listening(port) or child.poll() is not None, "the MCP server to listen")

        async def main() -> None:
            url = f"http://127.0.0.1:{port}/mcp"
            async with McpClient(url, mode="legacy", client_info=CLIENT_INFO) as client:
                await exercise(client)

        anyio.run(main)
        assert reader.count(CALLS) == 0, "nothing is sent before shutdown"
        child.send_signal(signal.SIGTERM)
        assert child.wait(30) == -signal.SIGTERM, "uvicorn re-raised the signal"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert reader.count(CALLS) == N_CALLS
    assert reader.count({"field": "event", "op": "eq", "value": MCP_SESSION}) == 1


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("mode", ["auto", "legacy"], ids=["2026-07-28", "handshake"])
def test_a_streamable_http_server_is_recorded(
    reader: Reader, make_client: MakeClient, errors: Errors, mode: str
) -> None:
    sdk = make_client()
    server = instrument(build_server(), client=sdk, identify=identify)

    async def main(url: str) -> None:
        async with httpx2.AsyncClient(headers={"X-User-Id": "http-user"}) as http:
            transport = streamable_http_client(url + "/mcp", http_client=http)
            async with McpClient(transport, mode=mode, client_info=CLIENT_INFO) as client:
                await exercise(client)

    with serve(server.streamable_http_app()) as url:
        anyio.run(main, url)
    assert sdk.flush(timeout=30)
    assert errors == []
    assert_recorded(reader, "http-user")


def test_inputs_and_outputs_can_be_left_out(
    reader: Reader, make_client: MakeClient, errors: Errors
) -> None:
    sdk = make_client()
    server = instrument(build_server(), client=sdk, disable_input=True, disable_output=True)

    async def main() -> Any:
        async with McpClient(server, client_info=CLIENT_INFO) as client:
            return await client.call_tool("add", {"a": 40, "b": 2})

    assert anyio.run(main).structured_content == {"result": 42}
    assert sdk.flush(timeout=30)
    assert errors == []
    [call] = reader.stored_mcp_calls()
    assert (call["primitive_name"], call["success"]) == ("add", True)
    assert not call["args"] and not call["result"], "nothing of the input or output is stored"
    assert call["latency_ms"] > 0


def test_each_anonymous_session_is_its_own_user(
    reader: Reader, make_client: MakeClient, errors: Errors
) -> None:
    sdk = make_client()
    server = instrument(build_server(), client=sdk)  # no identify: no user ids

    async def main() -> None:
        for _ in range(2):
            async with McpClient(server, mode="legacy", client_info=CLIENT_INFO) as client:
                await client.call_tool("add", {"a": 1, "b": 1})

    anyio.run(main)
    assert sdk.flush(timeout=30)
    assert errors == []
    totals = reader.mcp_servers()["totals"]
    assert (totals["sessions"], totals["users"], totals["calls"]) == (2, 2, 2)
