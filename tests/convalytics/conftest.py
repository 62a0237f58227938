"""Fixtures for the Convalytics surface: a server with provisioning limits off, helpers."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server where provisioning is not rate limited (0 = no limit)."""
    running, stop = start_server(
        tmp_path_factory.mktemp("cnv"), provision_rate_global=0, provision_rate_per_ip=0
    )
    yield running
    stop()


def provision(url: str, body: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
    r = httpx.post(url + "/api/provision", json=body or {}, headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def now_ms() -> int:
    return int(time.time() * 1000)


def cnv_event(name: str = "signup", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "userId": "u1", "sessionId": "s1", "timestamp": now_ms()}
    body.update(fields)
    return body


def stored(server: RunningServer, project_id: str, where: str = "1=1") -> list[dict[str, Any]]:
    return server.services.events.query(
        f"SELECT * FROM events WHERE project_id = ? AND {where} ORDER BY timestamp, name",
        [project_id],
    ).dicts()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)
