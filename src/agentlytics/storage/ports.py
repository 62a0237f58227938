"""The storage contract: what the core asks of every backend.

* :class:`EventStore`: the append-only event table, the identity map and bot counts
  (DuckDB embedded; ClickHouse scale-out).
* :class:`MetaStore`: accounts, projects, keys and small documents such as funnels and
  experiments (SQLite embedded; PostgreSQL scale-out).
* :class:`Coordinator`: rate-limit counters, stream slots and the live bus
  (in-process embedded; Redis scale-out).

Writes to an EventStore return only once the events are durable: that is what lets the HTTP
surface acknowledge an event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import msgspec

from agentlytics.model.event import BotHit, Event, Identity
from agentlytics.model.project import Account, ApiKey, Project


class Rows(msgspec.Struct):
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class EventStore(Protocol):
    #: names the SQL dialect the query engine renders for this store ("duckdb", "clickhouse")
    dialect: str

    async def append(self, events: Sequence[Event], bots: Sequence[BotHit] = ()) -> list[bool]:
        """Store events durably; per event, True if new and False if its id was seen before."""
        ...

    async def add_identity(self, identity: Identity) -> None:
        """Map ``previous_id`` to ``user_id`` for every later query."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Run a read-only statement (blocking; call it from a worker thread)."""
        ...

    def has_events(self, project_id: str) -> bool: ...

    async def flush(self) -> None:
        """Wait until every write queued so far is committed."""
        ...

    def close(self) -> None:
        """Commit what was acknowledged and release the store."""
        ...


#: the MetaStore's tables and columns as ``export_rows``/``import_rows`` move them, parents first
META_TABLES: dict[str, tuple[str, ...]] = {
    "accounts": Account.__struct_fields__,
    "api_keys": ApiKey.__struct_fields__,
    "projects": Project.__struct_fields__,
    "docs": ("kind", "id", "owner", "data"),
    "state": ("key", "value"),
}


class MetaStore(Protocol):
    # accounts
    def add_account(self, account: Account) -> None: ...
    def get_account(self, account_id: str) -> Account | None: ...
    def get_account_by_email(self, email: str) -> Account | None: ...
    def update_account(self, account: Account) -> None: ...
    def count_accounts(self) -> int: ...
    def list_accounts(self) -> list[Account]: ...

    # API keys (only hashes are stored)
    def add_api_key(self, key: ApiKey) -> None: ...
    def get_api_key_by_hash(self, key_hash: str) -> ApiKey | None: ...
    def list_api_keys(self, account_id: str) -> list[ApiKey]: ...
    def revoke_api_key(self, account_id: str, key_id: str, at: int) -> bool: ...

    # projects
    def add_project(self, project: Project) -> None: ...
    def update_project(self, project: Project) -> None: ...
    def get_project(self, project_id: str) -> Project | None: ...
    def get_project_by_write_key(self, write_key: str) -> Project | None: ...
    def find_project(self, **where: str) -> Project | None:
        """First live project matching every column given (account_id, name, claim_token,
        deployment_slug)."""
        ...

    def list_projects(self, account_id: str) -> list[Project]: ...

    # small JSON documents owned by a project: funnels, experiments, web sessions, …
    def put_doc(self, kind: str, doc_id: str, owner: str, data: dict[str, Any]) -> None: ...
    def get_doc(self, kind: str, doc_id: str) -> dict[str, Any] | None: ...
    def list_docs(self, kind: str, owner: str) -> list[dict[str, Any]]: ...
    def delete_doc(self, kind: str, doc_id: str) -> bool: ...

    # server state (salts, bootstrap markers)
    def get_state(self, key: str) -> str | None: ...
    def set_state(self, key: str, value: str) -> None: ...
    def compare_and_set_state(self, key: str, expected: str | None, value: str) -> bool:
        """Store ``value`` only if the key still holds ``expected`` (None: the key is absent).

        The building block for state several workers update at once (the visitor salts):
        read, merge, and retry when another worker changed the value in between.
        """
        ...

    # moving an installation (``agentlytics migrate``): every row, tables in dependency order
    def export_rows(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of accounts, api_keys, projects, docs and state, by key (docs in list
        order)."""
        ...

    def import_rows(self, tables: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
        """Insert exported rows, keeping any row already present; rows inserted per table."""
        ...

    def close(self) -> None: ...


class RateDecision(msgspec.Struct):
    allowed: bool
    count: int  # usage in the window after this call (unchanged when refused)
    limit: int
    reset_at_ms: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)


class Coordinator(Protocol):
    async def hit(self, key: str, cost: int, limit: int, window_s: int) -> RateDecision:
        """Charge ``cost`` to a fixed window, all or nothing."""
        ...

    async def acquire_slot(self, key: str, limit: int, ttl_s: int) -> str | None:
        """Take one of ``limit`` concurrent slots; a token to release, or None when full."""
        ...

    async def release_slot(self, key: str, token: str) -> None: ...

    async def publish(self, project_id: str, events: Sequence[dict[str, Any]]) -> None:
        """Fan committed events out to live subscribers and the recent-events window."""
        ...

    async def recent(self, project_id: str, since_ms: int) -> list[dict[str, Any]]:
        """Events published since ``since_ms`` (a window of 5 minutes / 10 000 events)."""
        ...

    def subscribe(
        self, project_id: str, last_id: str | None = None
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Yield (id, event) as events are published; resume after ``last_id`` when given."""
        ...

    async def close(self) -> None: ...
