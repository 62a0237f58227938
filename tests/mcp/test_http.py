"""``/mcp`` over Streamable HTTP with the SDK's client: discovery, keys, scopes, tenancy and
the rate limit."""

from __future__ import annotations

import json
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


# Every tool against another account's objects ----------------------------------------------
#
# ``{P}`` is the victim's project (name, id or write key), ``{F}`` its saved funnel, ``{X}`` its
# experiment. A new tool fails ``test_the_tenancy_matrix_lists_every_tool`` until it has a row.

_STEPS = [{"kind": "pageview", "match": "/"}, {"kind": "event", "match": "signup"}]
TOOL_ARGS: dict[str, dict[str, Any]] = {
    "top_pages": {"project": "{P}"},
    "top_referrers": {"project": "{P}"},
    "pageviews_count": {"project": "{P}"},
    "events_count": {"project": "{P}"},
    "recent_events": {"project": "{P}", "redact": False},
    "user_activity": {"project": "{P}", "user": "u1"},
    "weekly_digest": {"project": "{P}"},
    "list_funnels": {"project": "{P}"},
    "get_funnel": {"project": "{P}", "funnelId": "{F}"},
    "compute_funnel": {"project": "{P}", "funnelId": "{F}"},
    "create_funnel": {"project": "{P}", "name": "probe", "steps": _STEPS},
    "update_funnel": {"project": "{P}", "funnelId": "{F}", "name": "probe"},
    "delete_funnel": {"project": "{P}", "funnelId": "{F}"},
    "funnel": {"project": "{P}", "steps": _STEPS},
    "retention": {"project": "{P}"},
    "analytics_overview": {"project": "{P}"},
    "bot_traffic_overview": {"project": "{P}"},
    "analytics_paths": {"project": "{P}", "goal_event": "signup"},
    "query": {"project": "{P}"},
    "breakdown": {"project": "{P}", "property": "plan"},
    "properties": {"project": "{P}"},
    "sessions": {"project": "{P}"},
    "session_distribution": {"project": "{P}"},
    "pages": {"project": "{P}"},
    "insights": {"project": "{P}"},
    "heatmap": {"project": "{P}"},
    "live": {"project": "{P}"},
    "mcp_server_usage": {"project": "{P}"},
    "experiments_list": {"project": "{P}"},
    "experiment_results": {"project": "{P}", "experiment": "{X}"},
    "create_experiment": {
        "project": "{P}",
        "name": "probe",
        "variants": ["control", "b"],
        "goal_event": "signup",
    },
    "update_experiment": {"project": "{P}", "experiment": "{X}", "status": "paused"},
    "delete_experiment": {"project": "{P}", "experiment": "{X}"},
}
#: tools that take no project: another account's answer must not show ours
ACCOUNT_TOOLS: dict[str, dict[str, Any]] = {
    "list_projects": {},
    "get_usage": {},
    "all_sites_overview": {},
    "all_sites_bot_traffic": {},
    "create_project": {"name": "{P}"},
}


@pytest.fixture(scope="module")
def victim(server: RunningServer) -> dict[str, Any]:
    """A project of the owner's with events, a saved funnel and an experiment."""
    p = server.new_project()
    populate(server.url, p["project_token"], [pageview("/secret", user="u1", session="s1")])
    with server.client() as owner:
        funnel = owner.post("/funnels", json={"project": p["id"], "name": "v", "steps": _STEPS})
        exp = owner.post(
            "/experiments",
            json={"project": p["id"], "name": "v", "variants": ["a", "b"], "goal_event": "x"},
        )
    assert funnel.status_code == 201 and exp.status_code == 201, (funnel.text, exp.text)
    return {**p, "funnel": funnel.json()["id"], "experiment": exp.json()["id"]}


def _args(args: dict[str, Any], victim: dict[str, Any], ref: str) -> dict[str, Any]:
    names = {"{P}": victim[ref], "{F}": victim["funnel"], "{X}": victim["experiment"]}
    return {k: names.get(v, v) if isinstance(v, str) else v for k, v in args.items()}


def _not_found(message: str, tool: str) -> bool:
    head = f"Error executing tool {tool}: "
    return message.startswith((head + "NOT_FOUND: no ", head + "EXPERIMENT_NOT_FOUND: no "))


def _victim_intact(server: RunningServer, victim: dict[str, Any]) -> None:
    with server.client() as owner:
        assert owner.get(f"/projects/{victim['id']}").status_code == 200
        assert owner.get(f"/funnels/{victim['funnel']}").json()["name"] == "v"
        assert owner.get(f"/experiments/{victim['experiment']}").json()["status"] == "active"


async def test_the_tenancy_matrix_lists_every_tool(server: RunningServer) -> None:
    async with connect(server.url, None) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert names == set(TOOL_ARGS) | set(ACCOUNT_TOOLS)


@pytest.mark.parametrize("ref", ["name", "id", "project_token"])
@pytest.mark.parametrize("tool", sorted(TOOL_ARGS))
async def test_no_tool_reaches_another_accounts_project(
    server: RunningServer, victim: dict[str, Any], tool: str, ref: str
) -> None:
    stranger = other_account_key(server, "stranger@example.com")
    async with connect(server.url, stranger) as client:
        refused = await call_error(client, tool, **_args(TOOL_ARGS[tool], victim, ref))
    assert _not_found(refused, tool), refused
    _victim_intact(server, victim)


@pytest.mark.parametrize(
    "tool", sorted(t for t, a in TOOL_ARGS.items() if {"{F}", "{X}"} & set(map(str, a.values())))
)
async def test_no_tool_reaches_another_accounts_object_through_its_own_project(
    server: RunningServer, victim: dict[str, Any], tool: str
) -> None:
    """The victim's funnel or experiment id, named under the stranger's own project."""
    stranger = other_account_key(server, "stranger@example.com")
    with server.client(stranger) as c:
        own = c.post("/projects", json={"name": "stranger-own"}).json()
    async with connect(server.url, stranger) as client:
        args = {**_args(TOOL_ARGS[tool], victim, "id"), "project": own["id"]}
        refused = await call_error(client, tool, **args)
    assert _not_found(refused, tool), refused
    _victim_intact(server, victim)


@pytest.mark.parametrize("tool", sorted(ACCOUNT_TOOLS))
async def test_account_wide_tools_show_only_the_callers_projects(
    server: RunningServer, victim: dict[str, Any], tool: str
) -> None:
    stranger = other_account_key(server, "stranger@example.com")
    async with connect(server.url, stranger) as client:
        text = json.dumps(await call(client, tool, **_args(ACCOUNT_TOOLS[tool], victim, "name")))
    for secret in (victim["id"], victim["project_token"], victim["funnel"]):
        assert secret not in text, (tool, secret)
    _victim_intact(server, victim)


@pytest.mark.parametrize("tool", sorted(TOOL_ARGS | ACCOUNT_TOOLS))
def test_a_write_key_calls_no_tool(
    server: RunningServer, victim: dict[str, Any], tool: str
) -> None:
    args = _args({**TOOL_ARGS, **ACCOUNT_TOOLS}[tool], victim, "id")
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": args},
    }
    r = raw_post(server.url, body, victim["project_token"])
    assert r.status_code == 200 and r.json()["error"]["code"] == -32001, r.text
    _victim_intact(server, victim)
