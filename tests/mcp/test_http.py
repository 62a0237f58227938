"""``/mcp`` over Streamable HTTP with the SDK's client: discovery, keys, scopes, tenancy and
the rate limit."""

from __future__ import annotations

import time
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

from tests.conftest import RunningServer
from tests.factories import pageview, populate
from tests.mcp.conftest import (
    call,
    call_error,
    connect,
    new_key,
    other_account_key,
    raw_post,
)

pytestmark = pytest.mark.anyio

CONVALYTICS_TOOLS = {
    "list_projects",
    "get_usage",
    "top_pages",
    "top_referrers",
    "pageviews_count",
    "events_count",
    "recent_events",
    "user_activity",
    "weekly_digest",
    "list_funnels",
    "get_funnel",
    "compute_funnel",
    "create_funnel",
    "update_funnel",
    "delete_funnel",
}
AGENT_ANALYTICS_TOOLS = {
    "list_projects",
    "create_project",
    "all_sites_overview",
    "analytics_overview",
    "bot_traffic_overview",
    "all_sites_bot_traffic",
    "analytics_paths",
}
OTHER_TOOLS = {
    "query",
    "breakdown",
    "properties",
    "retention",
    "funnel",
    "sessions",
    "session_distribution",
    "pages",
    "insights",
    "heatmap",
    "live",
    "experiments_list",
    "experiment_results",
    "create_experiment",
    "update_experiment",
    "delete_experiment",
    "mcp_server_usage",
}
WRITES = {
    "create_funnel",
    "update_funnel",
    "delete_funnel",
    "create_project",
    "create_experiment",
    "update_experiment",
    "delete_experiment",
}
DELETES = {"delete_funnel", "delete_experiment"}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_tools_are_listed_without_a_key_with_schemas_and_annotations(
    server: RunningServer, mode: str
) -> None:
    async with connect(server.url, None, mode=mode) as client:
        assert client.server_info is not None and client.server_info.name == "agentlytics"
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == CONVALYTICS_TOOLS | AGENT_ANALYTICS_TOOLS | OTHER_TOOLS
    for name, tool in tools.items():
        a = tool.annotations
        assert a is not None and tool.description, name
        assert a.open_world_hint is False, name
        if name in WRITES:
            assert a.read_only_hint is False, name
            assert a.destructive_hint is (name in DELETES), name
        else:
            assert (a.read_only_hint, a.idempotent_hint) == (True, True), name
        assert tool.input_schema["type"] == "object", name
    top = tools["top_pages"].input_schema
    assert top["required"] == ["project"]
    assert top["properties"]["limit"]["default"] == 20
    assert top["properties"]["limit"]["maximum"] == 50
    digest = tools["weekly_digest"].input_schema["properties"]
    assert (digest["days"]["minimum"], digest["days"]["maximum"]) == (1, 90)
    assert tools["recent_events"].input_schema["properties"]["redact"]["default"] is True
    # the query tool takes the query model, with the valid metric names spelled out
    query = tools["query"].input_schema
    assert "unique_users" in query["properties"]["metrics"]["items"]["enum"]
    assert query["required"] == ["project"]


async def test_a_tool_call_without_a_key_is_refused_with_32001(server: RunningServer) -> None:
    async with connect(server.url, None) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("list_projects", {})
    assert refused.value.code == -32001
    assert "Authorization: Bearer" in refused.value.message


@pytest.mark.parametrize("key", ["aak_not_a_real_key", "aat_0123456789abcdef"])
async def test_a_bad_key_or_a_write_key_is_refused_with_32001(
    server: RunningServer, key: str
) -> None:
    async with connect(server.url, key) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("list_projects", {})
    assert refused.value.code == -32001


def test_initialize_list_and_ping_need_no_key_on_the_wire(server: RunningServer) -> None:
    hello = {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "curl", "version": "1"},
    }
    for i, (method, params) in enumerate(
        [("initialize", hello), ("tools/list", {}), ("ping", {})], start=1
    ):
        r = raw_post(server.url, {"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        assert r.status_code == 200, r.text
        assert "result" in r.json(), r.text
    assert r.json()["result"] == {}


def test_the_refusal_is_a_json_rpc_error_for_the_request(server: RunningServer) -> None:
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "get_usage"}}
    r = raw_post(server.url, body)
    assert r.status_code == 200
    assert r.json()["id"] == 7 and r.json()["error"]["code"] == -32001


@pytest.mark.parametrize("header", ["bearer", "bare", "x-api-key"])
async def test_the_key_is_accepted_as_bearer_bare_or_x_api_key(
    server: RunningServer, project: dict[str, Any], header: str
) -> None:
    async with connect(server.url, server.owner_key, header=header) as client:
        names = [p["name"] for p in (await call(client, "list_projects"))["projects"]]
    assert project["name"] in names


async def test_a_read_key_reads_but_cannot_write(
    server: RunningServer, project: dict[str, Any]
) -> None:
    read = new_key(server, "read")
    steps = [{"kind": "pageview", "match": "/"}, {"kind": "event", "match": "signup"}]
    async with connect(server.url, read) as client:
        await call(client, "top_pages", project=project["name"])
        refused = await call_error(
            client, "create_funnel", project=project["name"], name="f", steps=steps
        )
        assert "FORBIDDEN" in refused and "full-scope" in refused
        assert "FORBIDDEN" in await call_error(client, "create_project", name="nope-read")
        assert (await call(client, "list_funnels", project=project["name"]))["funnels"] == []
    async with connect(server.url, new_key(server, "full")) as client:
        made = await call(client, "create_funnel", project=project["name"], name="f", steps=steps)
    assert made["name"] == "f"


async def test_another_account_cannot_see_or_touch_this_accounts_projects(
    server: RunningServer, project: dict[str, Any]
) -> None:
    populate(server.url, project["project_token"], [pageview("/secret")])
    stranger = other_account_key(server, "stranger@example.com")
    async with connect(server.url, server.owner_key) as client:
        steps = [{"kind": "pageview", "match": "/"}, {"kind": "pageview", "match": "/secret"}]
        funnel = await call(
            client, "create_funnel", project=project["id"], name="mine", steps=steps
        )
    async with connect(server.url, stranger) as client:
        assert (await call(client, "list_projects"))["projects"] == []
        for ref in (project["name"], project["id"]):
            refused = await call_error(client, "top_pages", project=ref, since=0)
            assert "NOT_FOUND" in refused and "list_projects" in refused
        refused = await call_error(
            client, "get_funnel", project=project["id"], funnelId=funnel["id"]
        )
        assert "NOT_FOUND" in refused
        overview = await call(client, "all_sites_overview")
        assert overview["projects"] == []


async def test_over_the_rate_limit_a_call_gets_429_with_retry_after(make_server: Any) -> None:
    limited = make_server(mcp_rate_limit=3)
    async with connect(limited.url, limited.owner_key) as client:
        for _ in range(3):
            await call(client, "list_projects")
        await client.list_tools()  # discovery is not charged
        before_ms = time.time() * 1000  # in the window of the three calls, or none is refused
        with pytest.raises(MCPError) as refused:
            await client.call_tool("list_projects", {})
    assert refused.value.code == -32029
    data = refused.value.data
    assert data["error"] == "rate_limit_exceeded"
    # the window is the minute: it resets at the next whole minute, at most 60 s away
    assert 1 <= data["retryAfter"] <= 60 and data["resetAt"] % 60_000 == 0
    assert 0 < data["resetAt"] - before_ms <= 60_000
    assert "3 tool calls/min per account" in data["message"]
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get_usage"}}
    r = raw_post(limited.url, body, limited.owner_key)
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.json()["error"]["data"]["error"] == "rate_limit_exceeded"
