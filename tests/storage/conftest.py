"""Fixtures opening each storage port on every backend (see ``backends.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agentlytics.storage import registry
from agentlytics.storage.ports import Coordinator, EventStore, MetaStore
from tests.storage import backends


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=backends.EVENT_BACKENDS)
def events_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backends.event_store_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def events(events_url: str) -> Iterator[EventStore]:
    store = registry.open_event_store(backends.settings(events=events_url))
    yield store
    store.close()


@pytest.fixture(params=backends.META_BACKENDS)
def meta_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backends.meta_store_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def meta(meta_url: str) -> Iterator[MetaStore]:
    store = registry.open_meta_store(backends.settings(meta=meta_url))
    yield store
    store.close()


@pytest.fixture(params=backends.COORD_BACKENDS)
def coord_url(request: pytest.FixtureRequest) -> Iterator[str]:
    with backends.coordinator_url(request.param) as url:
        yield url


@pytest.fixture
async def coord(coord_url: str) -> AsyncIterator[Coordinator]:
    coordinator = registry.open_coordinator(backends.settings(coord=coord_url))
    yield coordinator
    await coordinator.close()
