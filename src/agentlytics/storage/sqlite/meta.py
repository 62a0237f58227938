"""MetaStore on SQLite: WAL mode, one connection guarded by a lock (writes are rare and small)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import msgspec

from agentlytics.model.project import Account, ApiKey, Project
from agentlytics.storage.ports import META_TABLES

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

_PROJECT_COLUMNS = Project.__struct_fields__
_FINDABLE = {"account_id", "name", "claim_token", "deployment_slug", "write_key", "id"}


class SQLiteMetaStore:
    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
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

    def _all(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cursor = self._con.execute(sql, params)
            cursor.row_factory = sqlite3.Row
            return cursor.fetchall()

    def _run(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> int:
        with self._lock:
            return self._con.execute(sql, params).rowcount

    # accounts ---------------------------------------------------------------------------

    def add_account(self, account: Account) -> None:
        self._run(
            "INSERT INTO accounts VALUES (?, ?, ?, ?, ?)",
            (account.id, account.email, account.tier, account.created_at, account.password_hash),
        )

    def get_account(self, account_id: str) -> Account | None:
        rows = self._all("SELECT * FROM accounts WHERE id = ?", (account_id,))
        return Account(**dict(rows[0])) if rows else None

    def get_account_by_email(self, email: str) -> Account | None:
        rows = self._all("SELECT * FROM accounts WHERE email = ?", (email,))
        return Account(**dict(rows[0])) if rows else None

    def update_account(self, account: Account) -> None:
        self._run(
            "UPDATE accounts SET email = ?, tier = ?, password_hash = ? WHERE id = ?",
            (account.email, account.tier, account.password_hash, account.id),
        )

    def count_accounts(self) -> int:
        return int(self._all("SELECT count(*) AS n FROM accounts")[0]["n"])

    def list_accounts(self) -> list[Account]:
        return [Account(**dict(r)) for r in self._all("SELECT * FROM accounts ORDER BY created_at")]

    # keys -------------------------------------------------------------------------------

    def add_api_key(self, key: ApiKey) -> None:
        self._run(
            "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key.id,
                key.account_id,
                key.name,
                key.scope,
                key.prefix,
                key.key_hash,
                key.created_at,
                key.revoked_at,
                key.last_used_at,
            ),
        )

    def get_api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        rows = self._all("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,))
        return ApiKey(**dict(rows[0])) if rows else None

    def list_api_keys(self, account_id: str) -> list[ApiKey]:
        rows = self._all(
            "SELECT * FROM api_keys WHERE account_id = ? ORDER BY created_at", (account_id,)
        )
        return [ApiKey(**dict(r)) for r in rows]

    def revoke_api_key(self, account_id: str, key_id: str, at: int) -> bool:
        return (
            self._run(
                "UPDATE api_keys SET revoked_at = ? "
                "WHERE id = ? AND account_id = ? AND revoked_at IS NULL",
                (at, key_id, account_id),
            )
            > 0
        )

    # projects ---------------------------------------------------------------------------

    def add_project(self, project: Project) -> None:
        placeholders = ", ".join("?" for _ in _PROJECT_COLUMNS)
        self._run(
            f"INSERT INTO projects ({', '.join(_PROJECT_COLUMNS)}) VALUES ({placeholders})",
            [getattr(project, c) for c in _PROJECT_COLUMNS],
        )

    def update_project(self, project: Project) -> None:
        columns = [c for c in _PROJECT_COLUMNS if c != "id"]
        assignments = ", ".join(f"{c} = ?" for c in columns)
        self._run(
            f"UPDATE projects SET {assignments} WHERE id = ?",
            [*(getattr(project, c) for c in columns), project.id],
        )

    def get_project(self, project_id: str) -> Project | None:
        rows = self._all("SELECT * FROM projects WHERE id = ?", (project_id,))
        return Project(**dict(rows[0])) if rows else None

    def get_project_by_write_key(self, write_key: str) -> Project | None:
        rows = self._all(
            "SELECT * FROM projects WHERE write_key = ? AND deleted_at IS NULL", (write_key,)
        )
        return Project(**dict(rows[0])) if rows else None

    def find_project(self, **where: str) -> Project | None:
        unknown = set(where) - _FINDABLE
        if unknown:
            raise ValueError(f"cannot look projects up by {sorted(unknown)}")
        clauses = " AND ".join(
            f"{k} = ? COLLATE NOCASE" if k == "name" else f"{k} = ?" for k in where
        )
        rows = self._all(
            f"SELECT * FROM projects WHERE {clauses or '1'} AND deleted_at IS NULL "
            "ORDER BY created_at LIMIT 1",
            list(where.values()),
        )
        return Project(**dict(rows[0])) if rows else None

    def list_projects(self, account_id: str) -> list[Project]:
        rows = self._all(
            "SELECT * FROM projects WHERE account_id = ? AND deleted_at IS NULL "
            "ORDER BY created_at",
            (account_id,),
        )
        return [Project(**dict(r)) for r in rows]

    # documents --------------------------------------------------------------------------

    def put_doc(self, kind: str, doc_id: str, owner: str, data: dict[str, Any]) -> None:
        self._run(
            "INSERT INTO docs VALUES (?, ?, ?, ?) "
            "ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, data = excluded.data",
            (kind, doc_id, owner, msgspec.json.encode(data).decode()),
        )

    def get_doc(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        rows = self._all("SELECT data FROM docs WHERE kind = ? AND id = ?", (kind, doc_id))
        return dict(json.loads(rows[0]["data"])) if rows else None

    def list_docs(self, kind: str, owner: str) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT data FROM docs WHERE kind = ? AND owner = ? ORDER BY rowid", (kind, owner)
        )
        return [dict(json.loads(r["data"])) for r in rows]

    def delete_doc(self, kind: str, doc_id: str) -> bool:
        return self._run("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, doc_id)) > 0

    # state ------------------------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        rows = self._all("SELECT value FROM state WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else None

    def set_state(self, key: str, value: str) -> None:
        self._run(
            "INSERT INTO state VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def compare_and_set_state(self, key: str, expected: str | None, value: str) -> bool:
        if expected is None:
            sql = "INSERT INTO state VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
            return self._run(sql, (key, value)) == 1
        sql = "UPDATE state SET value = ? WHERE key = ? AND value = ?"
        return self._run(sql, (value, key, expected)) == 1

    def export_rows(self) -> dict[str, list[dict[str, Any]]]:
        order = {"docs": "rowid", "state": "key"}  # documents keep their list order
        return {
            table: [
                dict(r)
                for r in self._all(
                    f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order.get(table, 'id')}"
                )
            ]
            for table, cols in META_TABLES.items()
        }

    def import_rows(self, tables: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
        counts = {}
        with self._lock:
            self._con.execute("BEGIN")
            try:
                for table, cols in META_TABLES.items():
                    sql = (
                        f"INSERT INTO {table} ({', '.join(cols)}) "
                        f"VALUES ({', '.join('?' for _ in cols)}) ON CONFLICT DO NOTHING"
                    )
                    rows = tables.get(table, [])
                    counts[table] = sum(
                        self._con.execute(sql, [r[c] for c in cols]).rowcount for r in rows
                    )
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
        return counts

    def close(self) -> None:
        with self._lock:
            self._con.close()
