"""MetaStore on SQLite: WAL mode, one connection guarded by a lock (writes are rare and small).

The statements are the shared ones of :mod:`agentlytics.storage.sqlmeta`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from agentlytics.storage.sqlmeta import Execute, MetaDialect, SQLMetaStore

MIGRATIONS: list[str] = [
    """
    CREATE TABLE accounts (
        id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE COLLATE NOCASE, tier TEXT NOT NULL,
        created_at INTEGER NOT NULL, password_hash TEXT
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id), name TEXT NOT NULL,
        scope TEXT NOT NULL, prefix TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL, revoked_at INTEGER, last_used_at INTEGER
    );
    CREATE INDEX api_keys_account ON api_keys(account_id);
    CREATE TABLE projects (
        id TEXT PRIMARY KEY, account_id TEXT REFERENCES accounts(id), name TEXT NOT NULL,
        write_key TEXT NOT NULL UNIQUE, allowed_origins TEXT NOT NULL, timezone TEXT NOT NULL,
        created_at INTEGER NOT NULL, deleted_at INTEGER, claim_token TEXT UNIQUE,
        deployment_slug TEXT, source_scan_id TEXT, site_url TEXT, context TEXT NOT NULL
    );
    CREATE INDEX projects_account ON projects(account_id);
    CREATE INDEX projects_slug ON projects(deployment_slug);
    CREATE TABLE docs (
        kind TEXT NOT NULL, id TEXT NOT NULL, owner TEXT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE INDEX docs_owner ON docs(kind, owner);
    CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
]

SQLITE = MetaDialect(
    # the email column is declared COLLATE NOCASE, so this comparison can use its index
    nocase_equals=lambda column: f"{column} = ? COLLATE NOCASE",
    doc_order="rowid",
)


class SQLiteMetaStore(SQLMetaStore):
    dialect = SQLITE

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._con.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=FULL")
        self._con.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            version = self._con.execute("PRAGMA user_version").fetchone()[0]
            for number, sql in enumerate(MIGRATIONS, start=1):
                if number <= version:
                    continue
                self._con.executescript(f"BEGIN; {sql}; PRAGMA user_version = {number}; COMMIT;")

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[dict[str, Any]], int]:
        with self._lock:
            cursor = self._con.execute(sql, params)
            return [dict(r) for r in cursor.fetchall()], cursor.rowcount

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Execute]:
        def execute(sql: str, params: Sequence[Any]) -> int:
            return self._con.execute(sql, params).rowcount

        with self._lock:
            self._con.execute("BEGIN")
            try:
                yield execute
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._con.close()
