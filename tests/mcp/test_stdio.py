"""``agentlytics mcp`` over stdio, driven by the SDK's client as a subprocess: on a data
directory written by a server that has stopped, and relayed to a running server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from tests.conftest import RunningServer, start_server
from tests.factories import event, ms, pageview, populate
from tests.mcp.conftest import call, call_error, new_key

pytestmark = pytest.mark.anyio

DAY = "2026-11-02"
SPAN = {"since": ms(f"{DAY}T00:00:00"), "until": ms("2026-11-03T00:00:00")}
STEPS = [{"kind": "pageview", "match": "/"}, {"kind": "event", "match": "signup"}]


@asynccontextmanager
async def stdio(*args: str) -> AsyncIterator[Client]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "agentlytics", "mcp", *args])
    async with Client(params) as client:
        yield client


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A data directory written through a real server, which is then stopped: project
    "shop" with u1 (/ then signup) and u2 (/), and a read key."""
    data_dir = tmp_path_factory.mktemp("stdio") / "data"
    running, stop = start_server(data_dir)
    try:
        p = running.new_project("shop")
        populate(
            running.url,
            p["project_token"],
            [
                pageview("/", user="u1", ts=f"{DAY}T09:00:00"),
                event("signup", user="u1", ts=f"{DAY}T09:01:00"),
                pageview("/", user="u2", ts=f"{DAY}T10:00:00"),
            ],
        )
        read = new_key(running, "read")
    finally:
        stop()
    return {"data_dir": str(data_dir), "read_key": read, "owner_key": running.owner_key}


async def test_on_a_data_directory_the_owner_reads_and_writes(stopped: dict[str, Any]) -> None:
    async with stdio("--data-dir", stopped["data_dir"]) as c:
        assert c.server_info is not None and c.server_info.name == "agentlytics"
        tools = {t.name for t in (await c.list_tools()).tools}
        assert {"top_pages", "weekly_digest", "create_funnel", "query"} <= tools
        pages = await call(c, "top_pages", project="shop", **SPAN)
        funnel = await call(c, "create_funnel", project="shop", name="signup", steps=STEPS)
        result = await call(c, "compute_funnel", project="shop", funnelId=funnel["id"], **SPAN)
    assert pages["pages"] == [{"path": "/", "views": 2, "visitors": 2}]
    assert [s["users"] for s in result["results"]["steps"]] == [2, 1]


async def test_on_a_data_directory_a_key_sets_account_and_scope(stopped: dict[str, Any]) -> None:
    async with stdio("--data-dir", stopped["data_dir"], "--key", stopped["read_key"]) as c:
        counted = await call(c, "pageviews_count", project="shop", **SPAN)
        refused = await call_error(c, "create_funnel", project="shop", name="f", steps=STEPS)
    assert counted["pageviews"] == 2
    assert "FORBIDDEN" in refused
    async with stdio("--data-dir", stopped["data_dir"], "--key", "aak_wrong") as c:
        with pytest.raises(MCPError) as bad:
            await c.call_tool("list_projects", {})
    assert bad.value.code == -32001


def test_a_data_directory_in_use_by_a_server_points_to_url_mode(
    make_server: Callable[..., RunningServer],
) -> None:
    running = make_server()
    done = subprocess.run(
        [sys.executable, "-m", "agentlytics", "mcp", "--data-dir", str(running.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "--url" in done.stderr and done.stdout == ""


async def test_relayed_to_a_running_server_with_a_key(
    server: RunningServer, project: dict[str, Any]
) -> None:
    populate(server.url, project["project_token"], [pageview("/relay", ts=f"{DAY}T09:00:00")])
    async with stdio("--url", server.url, "--key", server.owner_key) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert tools["delete_funnel"].annotations is not None
        assert tools["delete_funnel"].annotations.destructive_hint is True
        pages = await call(c, "top_pages", project=project["name"], **SPAN)
        missing = await call_error(c, "top_pages", project="no-such-project")
    assert pages["pages"] == [{"path": "/relay", "views": 1, "visitors": 1}]
    assert "NOT_FOUND" in missing
    async with stdio("--url", server.url + "/mcp", "--key", "aak_wrong") as c:
        with pytest.raises(MCPError) as bad:
            await c.call_tool("list_projects", {})
    assert bad.value.code == -32001


def test_url_mode_needs_a_key() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agentlytics", "mcp", "--url", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2 and "--key" in done.stderr
