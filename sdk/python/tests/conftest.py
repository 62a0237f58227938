"""Fixtures: the loopback server (see sdk_loopback.py) and clients aimed at it."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agentlytics_sdk import Client

from sdk_loopback import WAIT_SECONDS, Errors, LiveServer, Recorder, recording_app, serve_in_thread

# test_sdk_mcp.py drives mcp 2's MCPServer; under mcp 1 only test_sdk_mcp_v1.py applies.
collect_ignore = ["test_sdk_mcp.py"] if importlib.metadata.version("mcp").startswith("1.") else []


@pytest.fixture(scope="session")
def _live_server() -> Iterator[tuple[str, list[Recorder]]]:
    holder = [Recorder()]
    with serve_in_thread(recording_app(lambda: holder[0])) as url:
        yield url, holder
        holder[0].gate.set()


@pytest.fixture
def server(_live_server: tuple[str, list[Recorder]]) -> Iterator[LiveServer]:
    """The loopback server with a fresh recorder for this test."""
    url, holder = _live_server
    holder[0] = Recorder()
    yield LiveServer(url, holder[0])
    holder[0].gate.set()


@pytest.fixture
def errors() -> Errors:
    return Errors()


@pytest.fixture
def make_client(server: LiveServer, errors: Errors) -> Iterator[Callable[..., Client]]:
    """Build clients aimed at the loopback server; every one is shut down after the test."""
    clients: list[Client] = []

    def make(**options: Any) -> Client:
        options.setdefault("on_error", errors)
        options.setdefault("flush_interval", 0.05)
        client = Client("aat_test", server.url, **options)
        clients.append(client)
        return client

    yield make
    server.recorder.gate.set()
    for client in clients:
        client.shutdown(timeout=WAIT_SECONDS)


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTLYTICS_WRITE_KEY", raising=False)
    monkeypatch.delenv("AGENTLYTICS_URL", raising=False)
