"""EventStore on DuckDB.

One connection owns the file. A single writer thread takes write requests from a queue and
commits whatever has gathered in one transaction (group commit), so many small concurrent
requests cost one commit; each request's future resolves only after that commit. Reads use
their own cursors on the same connection (DuckDB's MVCC lets them run beside the writer).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from agentlytics.model.event import EVENT_COLUMNS, BotHit, Event, Identity
from agentlytics.storage.dedupe import RecentIds, id_key
from agentlytics.storage.duckdb.schema import migrate
from agentlytics.storage.ports import Rows

log = logging.getLogger(__name__)

_TS_COLUMNS = {"timestamp", "received_at"}
_MAX_GROUP = 20_000  # events per commit at most


def _arrow_type(column: str) -> pa.DataType:
    if column in _TS_COLUMNS:
        return pa.timestamp("ms")
    if column == "latency_ms":
        return pa.float64()
    if column == "success":
        return pa.bool_()
    return pa.string()


_EVENT_SCHEMA = pa.schema([(c, _arrow_type(c)) for c in EVENT_COLUMNS])
_BOT_SCHEMA = pa.schema(
    [
        ("project_id", pa.string()),
        ("timestamp", pa.timestamp("ms")),
        ("category", pa.string()),
        ("actor", pa.string()),
        ("name", pa.string()),
    ]
)


@dataclass
class _Write:
    events: Sequence[Event] = ()
    bots: Sequence[BotHit] = ()
    identities: Sequence[Identity] = ()
    future: concurrent.futures.Future[list[bool]] = field(default_factory=concurrent.futures.Future)


class DuckDBEventStore:
    dialect = "duckdb"

    def __init__(
        self,
        path: str,
        *,
        group_commit_ms: float = 0.0,
        dedupe_window_days: int = 7,
        dedupe_capacity: int = 2_000_000,
    ) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._con = duckdb.connect(path)
        self._con.execute("SET preserve_insertion_order = false")
        migrate(self._con)
        self._group_commit_s = group_commit_ms / 1000
        self._seen = RecentIds(dedupe_capacity)
        self._warm_dedupe(dedupe_window_days, dedupe_capacity)
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="duckdb-writer", daemon=True)
        self._thread.start()

    # -- writes ---------------------------------------------------------------------------

    async def append(self, events: Sequence[Event], bots: Sequence[BotHit] = ()) -> list[bool]:
        return await self._submit(_Write(events=events, bots=bots))

    async def add_identity(self, identity: Identity) -> None:
        await self._submit(_Write(identities=[identity]))

    async def flush(self) -> None:
        await self._submit(_Write())

    async def _submit(self, write: _Write) -> list[bool]:
        if self._closed:
            raise RuntimeError("event store is closed")
        self._queue.put(write)
        return await asyncio.wrap_future(write.future)

    def append_sync(self, events: Sequence[Event]) -> list[bool]:
        """Blocking append, for bulk loaders and tools outside the event loop."""
        write = _Write(events=events)
        self._queue.put(write)
        return write.future.result()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            count = len(first.events)
            deadline = time.monotonic() + self._group_commit_s
            while count < _MAX_GROUP:
                try:
                    timeout = deadline - time.monotonic()
                    item = (
                        self._queue.get_nowait()
                        if timeout <= 0
                        else self._queue.get(timeout=timeout)
                    )
                except queue.Empty:
                    break
                if item is None:
                    self._commit(group)
                    return
                group.append(item)
                count += len(item.events)
            self._commit(group)

    def _commit(self, group: list[_Write]) -> None:
        results: list[list[bool]] = []
        fresh: list[Event] = []
        added: list[int] = []
        for write in group:
            flags = []
            for event in write.events:
                key = id_key(event.project_id, event.event_id)
                new = self._seen.add(key)
                flags.append(new)
                if new:
                    fresh.append(event)
                    added.append(key)
            results.append(flags)
        bots = [b for w in group for b in w.bots]
        identities = [i for w in group for i in w.identities]
        try:
            self._con.execute("BEGIN")
            if fresh:
                self._insert_arrow("events", _events_table(fresh))
            if bots:
                self._insert_arrow("bot_hits", _bots_table(bots))
            for ident in identities:
                self._con.execute(
                    "INSERT OR REPLACE INTO identities "
                    "VALUES (?, ?, ?, make_timestamp(?::BIGINT * 1000))",
                    [ident.project_id, ident.previous_id, ident.user_id, ident.created_at],
                )
            self._con.execute("COMMIT")
        except Exception as exc:
            log.exception("commit failed")
            with contextlib.suppress(duckdb.Error):
                self._con.execute("ROLLBACK")
            for key in added:
                self._seen.discard(key)
            for write in group:
                write.future.set_exception(exc)
            return
        for write, flags in zip(group, results, strict=True):
            write.future.set_result(flags)

    def _insert_arrow(self, table: str, data: pa.Table) -> None:
        self._con.register("_batch", data)
        try:
            self._con.execute(f"INSERT INTO {table} SELECT * FROM _batch")
        finally:
            self._con.unregister("_batch")

    def _warm_dedupe(self, days: int, capacity: int) -> None:
        since = int(time.time() * 1000) - days * 86_400_000
        cursor = self._con.cursor()
        try:
            cursor.execute(
                "SELECT project_id, event_id FROM events "
                "WHERE received_at >= make_timestamp(?::BIGINT * 1000) "
                "ORDER BY received_at DESC LIMIT ?",
                [since, capacity],
            )
            while batch := cursor.fetchmany(50_000):
                for project_id, event_id in reversed(batch):
                    self._seen.add(id_key(project_id, event_id))
        finally:
            cursor.close()

    # -- reads ----------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        cursor = self._con.cursor()
        try:
            cursor.execute(sql, list(params))
            columns = [d[0] for d in cursor.description or []]
            return Rows(columns=columns, rows=cursor.fetchall())
        finally:
            cursor.close()

    def with_cursor(self, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        """Run ``fn`` with a private cursor (for bulk readers such as exports)."""
        cursor = self._con.cursor()
        try:
            return fn(cursor)
        finally:
            cursor.close()

    def has_events(self, project_id: str) -> bool:
        return bool(
            self.query("SELECT 1 FROM events WHERE project_id = ? LIMIT 1", [project_id]).rows
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        try:
            self._con.execute("CHECKPOINT")
        finally:
            self._con.close()


def _events_table(events: Sequence[Event]) -> pa.Table:
    columns = {c: [getattr(e, c) for e in events] for c in EVENT_COLUMNS}
    return pa.Table.from_pydict(columns, schema=_EVENT_SCHEMA)


def _bots_table(bots: Sequence[BotHit]) -> pa.Table:
    return pa.Table.from_pydict(
        {
            "project_id": [b.project_id for b in bots],
            "timestamp": [b.timestamp for b in bots],
            "category": [b.category for b in bots],
            "actor": [b.actor for b in bots],
            "name": [b.name for b in bots],
        },
        schema=_BOT_SCHEMA,
    )
