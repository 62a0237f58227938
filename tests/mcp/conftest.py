"""A real MCP client (the ``mcp`` SDK) on the real server's ``/mcp``, and helpers to read
tool answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from tests.conftest import RunningServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def connect(
    url: str,
    key: str | None,
    *,
    header: str = "bearer",
    mode: str = "auto",
    extra: dict[str, str] | None = None,
) -> AsyncIterator[Client]:
    """An MCP client session on ``url``/mcp; ``header`` says how the key is sent, ``extra``
    adds headers to every request."""
    headers = dict(extra or {})
    if key is not None:
        headers |= {
            "bearer": {"Authorization": f"Bearer {key}"},
            "bare": {"Authorization": key},
            "x-api-key": {"X-API-Key": key},
        }[header]
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url + "/mcp", http_client=http), mode=mode) as client,
    ):
        yield client


def text_of(result: CallToolResult) -> str:
    assert len(result.content) == 1
    block = result.content[0]
    assert block.type == "text"
    return str(block.text)


async def call(client: Client, tool: str, /, **args: Any) -> dict[str, Any]:
    """A tool's JSON answer; the call must succeed."""
    result = await client.call_tool(tool, args)
    assert not result.is_error, text_of(result)
    text = text_of(result)
    assert text == json.dumps(json.loads(text), indent=2), "results are indented JSON text"
    return dict(json.loads(text))


async def call_error(client: Client, tool: str, /, **args: Any) -> str:
    """A tool error's message; the call must fail as a tool error (isError)."""
    result = await client.call_tool(tool, args)
    assert result.is_error, text_of(result)
    return text_of(result)


def new_key(server: RunningServer, scope: str, key: str | None = None) -> str:
    """A new API key of the owner's account (or of ``key``'s account)."""
    with server.client(key or server.owner_key) as c:
        r = c.post("/account/keys", json={"name": f"mcp-{scope}", "scope": scope})
        assert r.status_code == 201, r.text
        return str(r.json()["api_key"])


def other_account_key(server: RunningServer, email: str) -> str:
    """A full key of a second account in the same server."""
    projects = server.services.projects
    account = projects.meta.get_account_by_email(email) or projects.create_account(email)
    _, raw = projects.create_api_key(account, "other", "full")
    return raw


def raw_post(url: str, body: Any, key: str | None = None) -> httpx.Response:
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": "2025-06-18",
    }
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.post(url + "/mcp", json=body, headers=headers, timeout=30)
