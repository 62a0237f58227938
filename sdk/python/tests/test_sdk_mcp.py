"""The MCP instrumentation, driven by the real `mcp` client, delivering to the loopback server."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client as McpClient
from mcp import StdioServerParameters
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import (
    CallToolRequestParams,
    CallToolResult,
    Implementation,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
)

from agentlytics_sdk import Client
from agentlytics_sdk.mcp import instrument

from sdk_loopback import LiveServer, serve_in_thread
from sdk_mcp_server import build_server, identify_from_env

MakeClient = Callable[..., Client]
CLIENT_INFO = Implementation(name="test-client", version="9.9")
SERVER_SCRIPT = Path(__file__).with_name("sdk_mcp_server.py")


async def _exercise(client: McpClient) -> None:
    """One of each: a good and a failing tool call, a resource read, a prompt get."""
    assert (await client.call_tool("add", {"a": 2, "b": 3})).is_error is False
    assert (await client.call_tool("explode", {"reason": "test"})).is_error is True
    await client.read_resource("res://greeting")
    await client.get_prompt("review", {"code": "x = 1"})


def _by_event(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sessions = [e for e in events if e["event"] == "$mcp_session"]
    calls = [e for e in events if e["event"] == "$mcp_call"]
    return sessions, calls


def _assert_calls(calls: list[dict[str, Any]], session_id: str, user_id: str | None) -> None:
    assert [(c["primitive_type"], c["primitive_name"], c["success"]) for c in calls] == [
        ("tool", "add", True),
        ("tool", "explode", False),
        ("resource", "res://greeting", True),
        ("prompt", "review", True),
    ]
    add, explode, resource, prompt = calls
    assert all(c["latency_ms"] > 0 for c in calls)
    assert all(c["mcp_session_id"] == c["session_id"] == session_id for c in calls)
    assert all(c["user_id"] == user_id for c in calls)
    assert all(c["client"] == "test-client" for c in calls)
    assert json.loads(add["args"]) == {"a": 2, "b": 3}
    assert json.loads(add["result"])["structuredContent"] == {"result": 5}
    assert add["error"] is None
    # MCPServer hides a crashing tool's message from the client; that is what we record.
    assert explode["error"] == "Error executing tool explode"
    assert explode["result"] == ""
    assert json.loads(resource["args"]) == {"uri": "res://greeting"}
    assert json.loads(resource["result"])["contents"][0]["text"] == "hello"
    assert json.loads(prompt["args"]) == {"code": "x = 1"}
    assert "Please review x = 1" in prompt["result"]


@pytest.fixture
def instrumented(make_client: MakeClient) -> Iterator[tuple[MCPServer, Client]]:
    client = make_client()
    server = instrument(build_server(), client=client, identify=identify_from_env)
    yield server, client


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_sessions_and_calls_are_recorded(
    server: LiveServer, instrumented: tuple[MCPServer, Client], mode: str
) -> None:
    mcp_server, client = instrumented

    async def main() -> None:
        async with McpClient(mcp_server, mode=mode, client_info=CLIENT_INFO) as mcp_client:
            await _exercise(mcp_client)

    anyio.run(main)
    assert client.flush(timeout=10)

    sessions, calls = _by_event(server.recorder.events())
    [session] = sessions
    assert session["client"] == "test-client"
    assert session["user_id"] == "anonymous"
    assert session["session_id"] == session["mcp_session_id"]
    assert session["properties"]["client_version"] == "9.9"
    assert session["properties"]["tools"] == ["add", "explode"]
    assert session["properties"]["user_data"] == {
        "userId": "anonymous",
        "email": "dev@example.com",
    }
    assert session["properties"]["server"] == "demo-server"
    _assert_calls(calls, session["session_id"], "anonymous")


def test_each_handshake_connection_is_its_own_session(
    server: LiveServer, instrumented: tuple[MCPServer, Client]
) -> None:
    mcp_server, client = instrumented

    async def main() -> None:
        for _ in range(2):
            async with McpClient(mcp_server, mode="legacy", client_info=CLIENT_INFO) as mcp_client:
                await mcp_client.call_tool("add", {"a": 1, "b": 1})

    anyio.run(main)
    assert client.flush(timeout=10)

    sessions, calls = _by_event(server.recorder.events())
    assert len(sessions) == 2
    assert [c["session_id"] for c in calls] == [s["session_id"] for s in sessions]


def test_without_a_handshake_one_client_and_user_is_one_session(
    server: LiveServer, instrumented: tuple[MCPServer, Client]
) -> None:
    mcp_server, client = instrumented

    async def main() -> None:
        for _ in range(2):
            async with McpClient(mcp_server, client_info=CLIENT_INFO) as mcp_client:
                await mcp_client.call_tool("add", {"a": 1, "b": 1})

    anyio.run(main)
    assert client.flush(timeout=10)

    sessions, calls = _by_event(server.recorder.events())
    assert len(sessions) == 1
    assert {c["session_id"] for c in calls} == {sessions[0]["session_id"]}


def test_inputs_and_outputs_can_be_left_out(server: LiveServer, make_client: MakeClient) -> None:
    client = make_client()
    mcp_server = instrument(build_server(), client=client, disable_input=True, disable_output=True)

    async def main() -> None:
        async with McpClient(mcp_server, client_info=CLIENT_INFO) as mcp_client:
            await mcp_client.call_tool("add", {"a": 2, "b": 3})

    anyio.run(main)
    assert client.flush(timeout=10)

    [call] = _by_event(server.recorder.events())[1]
    assert (call["args"], call["result"], call["success"]) == ("", "", True)


@pytest.mark.parametrize(
    "identify",
    [
        lambda ctx, env: {"email": "no-user-id@example.com"},
        lambda ctx, env: 1 / 0,
    ],
    ids=["without-userId", "raising"],
)
def test_a_bad_identify_records_the_call_without_a_user(
    server: LiveServer,
    make_client: MakeClient,
    identify: Callable[[Any, Mapping[str, str]], dict[str, Any]],
) -> None:
    client = make_client()
    mcp_server = instrument(build_server(), client=client, identify=identify)

    async def main() -> None:
        async with McpClient(mcp_server, client_info=CLIENT_INFO) as mcp_client:
            await mcp_client.call_tool("add", {"a": 2, "b": 3})

    anyio.run(main)
    assert client.flush(timeout=10)

    sessions, calls = _by_event(server.recorder.events())
    assert sessions[0]["properties"]["user_data"] == {}
    assert [(c["user_id"], c["success"]) for c in calls] == [(None, True)]


def test_instrumenting_twice_records_each_call_once(
    server: LiveServer, make_client: MakeClient
) -> None:
    client = make_client()
    mcp_server = instrument(instrument(build_server(), client=client), client=client)

    async def main() -> None:
        async with McpClient(mcp_server, client_info=CLIENT_INFO) as mcp_client:
            await mcp_client.call_tool("add", {"a": 2, "b": 3})

    anyio.run(main)
    assert client.flush(timeout=10)
    assert len(_by_event(server.recorder.events())[1]) == 1


def test_a_low_level_server_is_instrumented_too(
    server: LiveServer, make_client: MakeClient
) -> None:
    async def list_tools(ctx: Any, params: PaginatedRequestParams | None) -> ListToolsResult:
        return ListToolsResult(tools=[Tool(name="echo", input_schema={"type": "object"})])

    async def call_tool(ctx: Any, params: CallToolRequestParams) -> CallToolResult:
        if params.name != "echo":
            raise MCPError(code=-32602, message=f"unknown tool {params.name}")
        text = json.dumps(params.arguments)
        return CallToolResult(content=[TextContent(type="text", text=text)])

    client = make_client()
    low = instrument(
        Server("low-level", on_list_tools=list_tools, on_call_tool=call_tool), client=client
    )

    async def main() -> None:
        async with McpClient(low, mode="legacy", client_info=CLIENT_INFO) as mcp_client:
            await mcp_client.list_tools()
            await mcp_client.call_tool("echo", {"said": "hi"})
            with pytest.raises(MCPError):
                await mcp_client.call_tool("nope", {})

    anyio.run(main)
    assert client.flush(timeout=10)

    sessions, calls = _by_event(server.recorder.events())
    assert sessions[0]["properties"]["tools"] == ["echo"]
    assert [(c["primitive_name"], c["success"], c["error"]) for c in calls] == [
        ("echo", True, None),
        ("nope", False, "unknown tool nope"),
    ]


def test_a_stdio_server_delivers_its_events_when_it_exits(server: LiveServer) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=[str(SERVER_SCRIPT)],
        env={
            "AGENTLYTICS_WRITE_KEY": "aat_stdio",
            "AGENTLYTICS_URL": server.url,
            "DEMO_USER_ID": "stdio-user",
            "PYTHONPATH": str(SERVER_SCRIPT.parent),
        },
    )

    async def main() -> None:
        async with McpClient(params, client_info=CLIENT_INFO) as mcp_client:
            await _exercise(mcp_client)

    anyio.run(main)

    events = server.recorder.wait_for_events(5)
    sessions, calls = _by_event(events)
    assert {e["token"] for e in events} == {"aat_stdio"}
    [session] = sessions
    _assert_calls(calls, session["session_id"], "stdio-user")


@pytest.mark.parametrize(
    ("mode", "stateless"),
    [("auto", False), ("legacy", False), ("legacy", True)],
    ids=["2026-07-28", "handshake", "handshake-stateless"],
)
def test_a_streamable_http_server_is_recorded(
    server: LiveServer, instrumented: tuple[MCPServer, Client], mode: str, stateless: bool
) -> None:
    mcp_server, client = instrumented

    async def main(url: str) -> None:
        async with McpClient(url + "/mcp", mode=mode, client_info=CLIENT_INFO) as mcp_client:
            await _exercise(mcp_client)

    with serve_in_thread(mcp_server.streamable_http_app(stateless_http=stateless)) as url:
        anyio.run(main, url)
    assert client.flush(timeout=10)

    sessions, calls = _by_event(server.recorder.events())
    [session] = sessions
    if stateless:
        # Each stateless request stands alone; the handshake's client info is not kept.
        assert {c["client"] for c in calls} == {"unknown"}
        for call in calls:
            call["client"] = "test-client"
    _assert_calls(calls, session["session_id"], "anonymous")
