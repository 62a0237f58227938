"""Shared fixtures: a real agentlytics server on a loopback port, with real files."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from agentlytics.app import Services, build_services, create_app
from agentlytics.cli.protocol import OneSendProtocol
from agentlytics.settings import load_settings
from tests.storage import backends

OWNER_KEY = "aak_test_owner_key_0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    services: Services
    data_dir: Path
    owner_key: str = OWNER_KEY

    def client(self, key: str | None = OWNER_KEY, **kwargs: Any) -> httpx.Client:
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def new_project(self, name: str | None = None, **body: Any) -> dict[str, Any]:
        with self.client() as c:
            r = c.post("/projects", json={"name": name or f"p-{uuid.uuid4().hex[:10]}", **body})
            assert r.status_code in (200, 201), r.text
            return dict(r.json())


class _ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test thread is not the main thread
        pass


def start_server(data_dir: Path, **overrides: Any) -> tuple[RunningServer, Callable[[], None]]:
    settings = load_settings(
        {"data_dir": str(data_dir), "api_key": OWNER_KEY, **overrides}, environ={}
    )
    services = build_services(settings)
    port = free_port()
    config = uvicorn.Config(
        create_app(services),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        http=OneSendProtocol,  # as ``agentlytics serve``
    )
    server = _ThreadServer(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(20)

    return RunningServer(f"http://127.0.0.1:{port}", services, data_dir), stop


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for the session; tests isolate themselves with their own projects."""
    running, stop = start_server(tmp_path_factory.mktemp("server"))
    yield running
    stop()


@pytest.fixture(scope="module", params=backends.EVENT_BACKENDS)
def any_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """The session's DuckDB server, or one of the module's own on ClickHouse (chDB): the
    suites that must answer the same on every event store ask for this one."""
    if request.param == "duckdb":
        yield request.getfixturevalue("server")
        return
    with backends.chdb_database() as url:
        running, stop = start_server(
            tmp_path_factory.mktemp("chdb"), events=url, ingest_rate_limit=0
        )
        try:
            yield running
        finally:
            stop()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """A private server with settings of the test's choosing."""
    stops: list[Callable[[], None]] = []

    def make(**overrides: Any) -> RunningServer:
        running, stop = start_server(tmp_path / f"srv{len(stops)}", **overrides)
        stops.append(stop)
        return running

    yield make
    for stop in stops:
        stop()


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


@pytest.fixture
def project(server: RunningServer) -> dict[str, Any]:
    return server.new_project()


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AGENTLYTICS_"):
            monkeypatch.delenv(name)
