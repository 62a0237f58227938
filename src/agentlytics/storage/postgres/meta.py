"""MetaStore on PostgreSQL: the same tables and answers as the SQLite store, shared by workers.

Schema changes are numbered migrations recorded in ``schema_migrations``; every process runs
the missing ones at start-up under an advisory lock, so workers starting together apply each
migration once. Names and e-mails compare case-insensitively through ``lower()`` indexes, as
``COLLATE NOCASE`` does in SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec
import psycopg
from psycopg.rows import DictRow

from agentlytics.model.project import Account, ApiKey, Project
from agentlytics.storage.ports import META_TABLES
from agentlytics.storage.postgres.pool import Connection, ConnectionPool

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

_PROJECT_COLUMNS = Project.__struct_fields__
_FINDABLE = {"account_id", "name", "claim_token", "deployment_slug", "write_key", "id"}


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


class PostgresMetaStore:
    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self._pool = ConnectionPool(url, size=pool_size)
        with self._pool.connection() as (con, _):
            self.schema_version = migrate(con)

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[DictRow], int]:
        """Rows (if any) and the row count of one statement."""
        # A reused connection may have died with the server; one fresh retry covers that.
        for attempt in (1, 2):
            with self._pool.connection() as (con, reused):
                try:
                    cursor = con.execute(sql, params)
                    rows = cursor.fetchall() if cursor.description else []
                    return rows, cursor.rowcount
                except psycopg.OperationalError:
                    if attempt == 2 or not reused or not con.broken:
                        raise
            self._pool.discard_idle()
        raise AssertionError("unreachable")

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[DictRow]:
        return self._execute(sql, params)[0]

    def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._execute(sql, params)[1]

    # accounts ---------------------------------------------------------------------------

    def add_account(self, account: Account) -> None:
        self._run(
            "INSERT INTO accounts VALUES (%s, %s, %s, %s, %s)",
            (account.id, account.email, account.tier, account.created_at, account.password_hash),
        )

    def get_account(self, account_id: str) -> Account | None:
        rows = self._all("SELECT * FROM accounts WHERE id = %s", (account_id,))
        return Account(**rows[0]) if rows else None

    def get_account_by_email(self, email: str) -> Account | None:
        rows = self._all("SELECT * FROM accounts WHERE lower(email) = lower(%s)", (email,))
        return Account(**rows[0]) if rows else None

    def update_account(self, account: Account) -> None:
        self._run(
            "UPDATE accounts SET email = %s, tier = %s, password_hash = %s WHERE id = %s",
            (account.email, account.tier, account.password_hash, account.id),
        )

    def count_accounts(self) -> int:
        return int(self._all("SELECT count(*) AS n FROM accounts")[0]["n"])

    def list_accounts(self) -> list[Account]:
        return [Account(**r) for r in self._all("SELECT * FROM accounts ORDER BY created_at")]

    # keys -------------------------------------------------------------------------------

    def add_api_key(self, key: ApiKey) -> None:
        self._run(
            "INSERT INTO api_keys VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
        rows = self._all("SELECT * FROM api_keys WHERE key_hash = %s", (key_hash,))
        return ApiKey(**rows[0]) if rows else None

    def list_api_keys(self, account_id: str) -> list[ApiKey]:
        rows = self._all(
            "SELECT * FROM api_keys WHERE account_id = %s ORDER BY created_at, id", (account_id,)
        )
        return [ApiKey(**r) for r in rows]

    def revoke_api_key(self, account_id: str, key_id: str, at: int) -> bool:
        return (
            self._run(
                "UPDATE api_keys SET revoked_at = %s "
                "WHERE id = %s AND account_id = %s AND revoked_at IS NULL",
                (at, key_id, account_id),
            )
            > 0
        )

    # projects ---------------------------------------------------------------------------

    def add_project(self, project: Project) -> None:
        placeholders = ", ".join("%s" for _ in _PROJECT_COLUMNS)
        self._run(
            f"INSERT INTO projects ({', '.join(_PROJECT_COLUMNS)}) VALUES ({placeholders})",
            [getattr(project, c) for c in _PROJECT_COLUMNS],
        )

    def update_project(self, project: Project) -> None:
        columns = [c for c in _PROJECT_COLUMNS if c != "id"]
        assignments = ", ".join(f"{c} = %s" for c in columns)
        self._run(
            f"UPDATE projects SET {assignments} WHERE id = %s",
            [*(getattr(project, c) for c in columns), project.id],
        )

    def get_project(self, project_id: str) -> Project | None:
        rows = self._all("SELECT * FROM projects WHERE id = %s", (project_id,))
        return Project(**rows[0]) if rows else None

    def get_project_by_write_key(self, write_key: str) -> Project | None:
        rows = self._all(
            "SELECT * FROM projects WHERE write_key = %s AND deleted_at IS NULL", (write_key,)
        )
        return Project(**rows[0]) if rows else None

    def find_project(self, **where: str) -> Project | None:
        unknown = set(where) - _FINDABLE
        if unknown:
            raise ValueError(f"cannot look projects up by {sorted(unknown)}")
        clauses = " AND ".join(
            "lower(name) = lower(%s)" if k == "name" else f"{k} = %s" for k in where
        )
        rows = self._all(
            f"SELECT * FROM projects WHERE {clauses or 'true'} AND deleted_at IS NULL "
            "ORDER BY created_at, id LIMIT 1",
            list(where.values()),
        )
        return Project(**rows[0]) if rows else None

    def list_projects(self, account_id: str) -> list[Project]:
        rows = self._all(
            "SELECT * FROM projects WHERE account_id = %s AND deleted_at IS NULL "
            "ORDER BY created_at, id",
            (account_id,),
        )
        return [Project(**r) for r in rows]

    # documents --------------------------------------------------------------------------

    def put_doc(self, kind: str, doc_id: str, owner: str, data: dict[str, Any]) -> None:
        self._run(
            "INSERT INTO docs (kind, id, owner, data) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, data = excluded.data",
            (kind, doc_id, owner, msgspec.json.encode(data).decode()),
        )

    def get_doc(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        rows = self._all("SELECT data FROM docs WHERE kind = %s AND id = %s", (kind, doc_id))
        return dict(json.loads(rows[0]["data"])) if rows else None

    def list_docs(self, kind: str, owner: str) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT data FROM docs WHERE kind = %s AND owner = %s ORDER BY seq", (kind, owner)
        )
        return [dict(json.loads(r["data"])) for r in rows]

    def delete_doc(self, kind: str, doc_id: str) -> bool:
        return self._run("DELETE FROM docs WHERE kind = %s AND id = %s", (kind, doc_id)) > 0

    # state ------------------------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        rows = self._all("SELECT value FROM state WHERE key = %s", (key,))
        return str(rows[0]["value"]) if rows else None

    def set_state(self, key: str, value: str) -> None:
        self._run(
            "INSERT INTO state VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def compare_and_set_state(self, key: str, expected: str | None, value: str) -> bool:
        if expected is None:
            sql = "INSERT INTO state VALUES (%s, %s) ON CONFLICT (key) DO NOTHING"
            return self._run(sql, (key, value)) == 1
        sql = "UPDATE state SET value = %s WHERE key = %s AND value = %s"
        return self._run(sql, (value, key, expected)) == 1

    def export_rows(self) -> dict[str, list[dict[str, Any]]]:
        order = {"docs": "seq", "state": "key"}
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
        with self._pool.connection() as (con, _), con.transaction():
            for table, cols in META_TABLES.items():
                sql = (
                    f"INSERT INTO {table} ({', '.join(cols)}) "
                    f"VALUES ({', '.join('%s' for _ in cols)}) ON CONFLICT DO NOTHING"
                )
                counts[table] = 0
                for row in tables.get(table, []):
                    counts[table] += con.execute(sql, [row[c] for c in cols]).rowcount
        return counts

    def close(self) -> None:
        self._pool.close()
