"""MetaStore on PostgreSQL: the same tables and answers as the SQLite store, shared by workers.

The statements are the shared ones of :mod:`agentlytics.storage.sqlmeta`, with psycopg's
``%s`` placeholders in place of ``?``.

Schema changes are numbered migrations recorded in ``schema_migrations``; every process runs
the missing ones at start-up under an advisory lock, so workers starting together apply each
migration once. Names and e-mails compare case-insensitively through ``lower()`` indexes, as
``COLLATE NOCASE`` does in SQLite.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from agentlytics.storage.postgres.pool import Connection, ConnectionPool
from agentlytics.storage.sqlmeta import Execute, MetaDialect, SQLMetaStore

MIGRATIONS: list[str] = [
    # 1: accounts, keys, projects, documents, server state
    """
    CREATE TABLE accounts (
        id text PRIMARY KEY, email text NOT NULL, tier text NOT NULL,
        created_at bigint NOT NULL, password_hash text
    );
    CREATE UNIQUE INDEX accounts_email ON accounts (lower(email));
    CREATE TABLE api_keys (
        id text PRIMARY KEY, account_id text NOT NULL REFERENCES accounts(id), name text NOT NULL,
        scope text NOT NULL, prefix text NOT NULL, key_hash text NOT NULL UNIQUE,
        created_at bigint NOT NULL, revoked_at bigint, last_used_at bigint
    );
    CREATE INDEX api_keys_account ON api_keys (account_id, created_at);
    CREATE TABLE projects (
        id text PRIMARY KEY, account_id text REFERENCES accounts(id), name text NOT NULL,
        write_key text NOT NULL UNIQUE, allowed_origins text NOT NULL, timezone text NOT NULL,
        created_at bigint NOT NULL, deleted_at bigint, claim_token text UNIQUE,
        deployment_slug text, source_scan_id text, site_url text, context text NOT NULL
    );
    CREATE INDEX projects_account ON projects (account_id, created_at);
    CREATE INDEX projects_name ON projects (lower(name));
    CREATE INDEX projects_slug ON projects (deployment_slug);
    -- seq keeps insertion order (SQLite's rowid); an upsert keeps the row and so its place
    CREATE TABLE docs (
        seq bigserial NOT NULL, kind text NOT NULL, id text NOT NULL, owner text NOT NULL,
        data text NOT NULL, PRIMARY KEY (kind, id)
    );
    CREATE INDEX docs_owner ON docs (kind, owner, seq);
    CREATE TABLE state (key text PRIMARY KEY, value text NOT NULL);
    """,
]

# any constant works; it only has to be the same in every process that migrates
_MIGRATION_LOCK = 0x61676C79

POSTGRES = MetaDialect(
    # served by the lower() indexes of the migration
    nocase_equals=lambda column: f"lower({column}) = lower(?)",
    doc_order="seq",
)


@functools.lru_cache(maxsize=256)
def _pyformat(sql: str) -> str:
    """psycopg's placeholders for the shared ``?`` ones."""
    return sql.replace("?", "%s")


def migrate(con: Connection) -> int:
    """Apply the missing migrations; returns the version now in force."""
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        row = con.execute("SELECT max(version) AS v FROM schema_migrations").fetchone()
        current = int(row["v"]) if row and row["v"] is not None else 0
        for version, sql in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            current = version
    return current


class PostgresMetaStore(SQLMetaStore):
    dialect = POSTGRES

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self._pool = ConnectionPool(url, size=pool_size)
        with self._pool.connection() as (con, _):
            self.schema_version = migrate(con)

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[dict[str, Any]], int]:
        # A reused connection may have died with the server; one fresh retry covers that.
        for attempt in (1, 2):
            with self._pool.connection() as (con, reused):
                try:
                    cursor = con.execute(_pyformat(sql), params)
                    rows = cursor.fetchall() if cursor.description else []
                    return rows, cursor.rowcount
                except psycopg.OperationalError:
                    if attempt == 2 or not reused or not con.broken:
                        raise
            self._pool.discard_idle()
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Execute]:
        with self._pool.connection() as (con, _), con.transaction():

            def execute(sql: str, params: Sequence[Any]) -> int:
                return con.execute(_pyformat(sql), params).rowcount

            yield execute

    def close(self) -> None:
        self._pool.close()
