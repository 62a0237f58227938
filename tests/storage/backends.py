"""Every storage backend the suites run against, opened the way the server opens them.

The scale-out engines are real: PostgreSQL and Redis on loopback (``scripts/install --dev``
starts them), ClickHouse as chDB in this process. chDB allows one data directory per process,
so every test that needs ClickHouse shares :data:`CHDB_DIR` and gets its own database.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from agentlytics.settings import Settings, load_settings

PG_ADMIN = os.environ.get("AGENTLYTICS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("AGENTLYTICS_TEST_REDIS", "redis://127.0.0.1:6379/15")

#: the one chDB data directory of this test process
CHDB_DIR = Path(tempfile.gettempdir()) / f"agentlytics-chdb-{os.getpid()}"
atexit.register(shutil.rmtree, CHDB_DIR, ignore_errors=True)

EVENT_BACKENDS = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("chdb", id="chdb", marks=pytest.mark.scaleout),
]
META_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.scaleout),
]
COORD_BACKENDS = [
    pytest.param("memory", id="memory"),
    pytest.param("redis", id="redis", marks=pytest.mark.scaleout),
]


#: the identity map as one row per previous id; ClickHouse keeps versions until they merge
IDENTITIES = {
    "duckdb": "identities",
    "clickhouse": "(SELECT project_id, previous_id, argMax(user_id, created_at) AS user_id "
    "FROM identities GROUP BY project_id, previous_id)",
}


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def settings(**values: Any) -> Settings:
    return load_settings(values, environ={})


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards; yields its URL."""
    name = unique("agentlytics_test")
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN} (scripts/install --dev): {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def redis_namespace() -> Iterator[str]:
    """A Redis URL whose keys carry a prefix of their own, deleted afterwards."""
    prefix = unique("t") + ":"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        client.close()
        pytest.fail(f"Redis is not reachable at {REDIS_URL} (scripts/install --dev): {exc}")
    try:
        yield f"{REDIS_URL}?prefix={prefix}"
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@contextlib.contextmanager
def chdb_database() -> Iterator[str]:
    """A ``chdb://`` URL naming a database of its own in the process's chDB directory."""
    import clickhouse_connect

    name = unique("t")
    yield f"chdb://{CHDB_DIR}?database={name}"
    client = clickhouse_connect.get_client(dsn=f"chdb://{CHDB_DIR}")
    try:
        client.command(f"DROP DATABASE IF EXISTS {name} SYNC")
    finally:
        client.close()


@contextlib.contextmanager
def event_store_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "duckdb":
        yield f"duckdb:///{tmp_path / 'events.duckdb'}"
    else:
        with chdb_database() as url:
            yield url


@contextlib.contextmanager
def meta_store_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'meta.sqlite'}"
    else:
        with postgres_database() as url:
            yield url


@contextlib.contextmanager
def coordinator_url(kind: str) -> Iterator[str]:
    if kind == "memory":
        yield "memory://"
    else:
        with redis_namespace() as url:
            yield url
