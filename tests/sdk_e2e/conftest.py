"""Fixtures: the real server's project, read back through the API, and SDK clients aimed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from agentlytics_sdk import Client

from tests.conftest import RunningServer
from tests.sdk_e2e.support import WAIT_SECONDS, Reader

Errors = list[tuple[BaseException, list[dict[str, Any]]]]
MakeClient = Callable[..., Client]


@pytest.fixture
def reader(server: RunningServer, project: dict[str, Any]) -> Reader:
    return Reader(server, project)


@pytest.fixture
def errors() -> Errors:
    """What the clients' `on_error` received; a test that expects none asserts it is empty."""
    return []


@pytest.fixture
def make_client(reader: Reader, errors: Errors) -> Iterator[MakeClient]:
    """SDK clients with the project's write key, aimed at the real server (or `url=`)."""
    clients: list[Client] = []

    def make(url: str | None = None, **options: Any) -> Client:
        options.setdefault("flush_interval", 0.05)
        options.setdefault("on_error", lambda exc, items: errors.append((exc, items)))
        client = Client(reader.write_key, url or reader.server.url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(timeout=WAIT_SECONDS)
