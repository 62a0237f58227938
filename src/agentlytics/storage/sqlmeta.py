"""The MetaStore's SQL, shared by SQLite (embedded) and PostgreSQL (scale-out).

Both stores hold the same tables and answer the same calls with the same statements. What
differs is small and lives in :class:`MetaDialect` (case-insensitive comparison, the column
that keeps documents in insertion order) and in the three primitives a store implements:
:meth:`SQLMetaStore._execute` (one statement), :meth:`SQLMetaStore._transaction` (several
statements that commit together) and :meth:`SQLMetaStore.close`.

Statements are written with ``?`` placeholders; a store whose driver wants another style
rewrites them in ``_execute`` (none of these statements has a ``?`` or ``%`` in a literal).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import msgspec

from agentlytics.model.project import Account, ApiKey, Project
from agentlytics.storage.ports import META_TABLES

_PROJECT_COLUMNS = Project.__struct_fields__
_FINDABLE = {"account_id", "name", "claim_token", "deployment_slug", "write_key", "id"}

#: runs one statement inside a transaction; returns its row count
Execute = Callable[[str, Sequence[Any]], int]


@dataclass(frozen=True)
class MetaDialect:
    #: ``column = ?`` ignoring case (e-mails, project names)
    nocase_equals: Callable[[str], str]
    #: the docs column that grows with each new document (its list order)
    doc_order: str


class SQLMetaStore:
    """Every MetaStore call as SQL; subclasses run the statements."""

    dialect: MetaDialect

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[dict[str, Any]], int]:
        """The rows (as dicts; none for a write) and the row count of one statement."""
        raise NotImplementedError

    def _transaction(self) -> AbstractContextManager[Execute]:
        """A transaction, as a function that runs one statement in it."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._execute(sql, params)[0]

    def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._execute(sql, params)[1]

    # accounts ---------------------------------------------------------------------------

    def add_account(self, account: Account) -> None:
        self._run(
            "INSERT INTO accounts VALUES (?, ?, ?, ?, ?)",
            (account.id, account.email, account.tier, account.created_at, account.password_hash),
        )

    def get_account(self, account_id: str) -> Account | None:
        rows = self._all("SELECT * FROM accounts WHERE id = ?", (account_id,))
        return Account(**rows[0]) if rows else None

    def get_account_by_email(self, email: str) -> Account | None:
        where = self.dialect.nocase_equals("email")
        rows = self._all(f"SELECT * FROM accounts WHERE {where}", (email,))
        return Account(**rows[0]) if rows else None

    def update_account(self, account: Account) -> None:
        self._run(
            "UPDATE accounts SET email = ?, tier = ?, password_hash = ? WHERE id = ?",
            (account.email, account.tier, account.password_hash, account.id),
        )

    def count_accounts(self) -> int:
        return int(self._all("SELECT count(*) AS n FROM accounts")[0]["n"])

    def list_accounts(self) -> list[Account]:
        rows = self._all("SELECT * FROM accounts ORDER BY created_at, id")
        return [Account(**r) for r in rows]

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
        return ApiKey(**rows[0]) if rows else None

    def list_api_keys(self, account_id: str) -> list[ApiKey]:
        rows = self._all(
            "SELECT * FROM api_keys WHERE account_id = ? ORDER BY created_at, id", (account_id,)
        )
        return [ApiKey(**r) for r in rows]

    def revoke_api_key(self, account_id: str, key_id: str, at: int) -> bool:
        changed = self._run(
            "UPDATE api_keys SET revoked_at = ? "
            "WHERE id = ? AND account_id = ? AND revoked_at IS NULL",
            (at, key_id, account_id),
        )
        return changed > 0

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
        return Project(**rows[0]) if rows else None

    def get_project_by_write_key(self, write_key: str) -> Project | None:
        rows = self._all(
            "SELECT * FROM projects WHERE write_key = ? AND deleted_at IS NULL", (write_key,)
        )
        return Project(**rows[0]) if rows else None

    def find_project(self, **where: str) -> Project | None:
        unknown = set(where) - _FINDABLE
        if unknown:
            raise ValueError(f"cannot look projects up by {sorted(unknown)}")
        clauses = [self.dialect.nocase_equals(k) if k == "name" else f"{k} = ?" for k in where]
        clauses.append("deleted_at IS NULL")
        rows = self._all(
            f"SELECT * FROM projects WHERE {' AND '.join(clauses)} ORDER BY created_at, id LIMIT 1",
            list(where.values()),
        )
        return Project(**rows[0]) if rows else None

    def list_projects(self, account_id: str) -> list[Project]:
        rows = self._all(
            "SELECT * FROM projects WHERE account_id = ? AND deleted_at IS NULL "
            "ORDER BY created_at, id",
            (account_id,),
        )
        return [Project(**r) for r in rows]

    # documents --------------------------------------------------------------------------

    def put_doc(self, kind: str, doc_id: str, owner: str, data: dict[str, Any]) -> None:
        self._run(
            "INSERT INTO docs (kind, id, owner, data) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, data = excluded.data",
            (kind, doc_id, owner, msgspec.json.encode(data).decode()),
        )

    def get_doc(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        rows = self._all("SELECT data FROM docs WHERE kind = ? AND id = ?", (kind, doc_id))
        return dict(json.loads(rows[0]["data"])) if rows else None

    def list_docs(self, kind: str, owner: str) -> list[dict[str, Any]]:
        rows = self._all(
            f"SELECT data FROM docs WHERE kind = ? AND owner = ? ORDER BY {self.dialect.doc_order}",
            (kind, owner),
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

    # moving an installation -------------------------------------------------------------

    def export_rows(self) -> dict[str, list[dict[str, Any]]]:
        order = {"docs": self.dialect.doc_order, "state": "key"}
        return {
            table: self._all(
                f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order.get(table, 'id')}"
            )
            for table, cols in META_TABLES.items()
        }

    def import_rows(self, tables: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
        counts = {}
        with self._transaction() as execute:
            for table, cols in META_TABLES.items():
                sql = (
                    f"INSERT INTO {table} ({', '.join(cols)}) "
                    f"VALUES ({', '.join('?' for _ in cols)}) ON CONFLICT DO NOTHING"
                )
                rows = tables.get(table, [])
                counts[table] = sum(execute(sql, [r[c] for c in cols]) for r in rows)
        return counts
