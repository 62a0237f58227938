"""Helpers the HTTP-level suites share: a project filled through the real ingest path, and the
JSON of a read that must answer 200."""

from __future__ import annotations

from typing import Any

from tests.conftest import RunningServer
from tests.factories import populate


def populated_project(
    server: RunningServer, events: list[dict[str, Any]], **project: Any
) -> dict[str, Any]:
    """A new project (``project`` as ``POST /projects`` takes it) holding ``events``."""
    p = server.new_project(**project)
    populate(server.url, p["project_token"], events)
    return p


def ok_json(server: RunningServer, method: str, path: str, **request: Any) -> dict[str, Any]:
    """The JSON answer of ``method path`` with the owner's key; fails the test unless 200."""
    with server.client() as c:
        r = c.request(method, path, **request)
    assert r.status_code == 200, r.text
    return dict(r.json())
