"""What the summary tests (rollups, session fragments, hourly users) share: a server with no
ingest rate limit, a project with its store and write key, and undoing a migration."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from agentlytics.model.project import Project
from tests.conftest import RunningServer


@pytest.fixture
def unlimited_server(make_server: Any) -> RunningServer:
    server: RunningServer = make_server(ingest_rate_limit=0)
    return server


def summary_project(server: RunningServer, name: str) -> tuple[Project, Any, str]:
    """A new project of ``server``: the project, the server's event store, the write key."""
    created = server.new_project(name)
    project = server.services.meta.get_project(created["id"])
    assert project is not None
    return project, server.services.events, created["project_token"]


def drop_migrations_11_12(con: duckdb.DuckDBPyConnection) -> None:
    """Undo migrations 11 (the hourly session totals) and 12 (the users per path), for tests
    that set a database back to an older schema."""
    con.execute("DROP TABLE session_totals")
    con.execute("DROP TABLE dim_hourly")
    con.execute("DROP TABLE summary_definitions")
    con.execute("DELETE FROM rollup_state WHERE name = 'dim_hourly'")
