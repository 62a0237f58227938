"""EventStore on DuckDB.

One connection owns the file. The shared group-commit writer (``storage/writer.py``) commits
whatever has gathered in one transaction, so many small concurrent requests cost one commit;
each request's future resolves only after that commit. Reads use their own cursors on the
same connection (DuckDB's MVCC lets them run beside the writer).

Between commits the writer keeps the hourly rollup current (``rollup.py``); bulk loads and
other maintenance run in the writer thread too, so every write is serialized through it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from msgspec.structs import astuple

from agentlytics.model.event import EVENT_COLUMNS, BotHit, Event, Identity
from agentlytics.storage.dedupe import RecentIds, id_key
from agentlytics.storage.duckdb import rollup
from agentlytics.storage.duckdb.schema import migrate
from agentlytics.storage.ports import Rows
from agentlytics.storage.writer import GroupWriter, Outcome, Write, mark_new

log = logging.getLogger(__name__)

_TS_COLUMNS = {"timestamp", "received_at"}
_MAINTAIN_EVERY_S = 30.0  # rollup upkeep at least this often


def _arrow_type(column: str) -> pa.DataType:
    if column in _TS_COLUMNS:
        return pa.timestamp("ms")
    if column == "latency_ms":
        return pa.float64()
    if column == "success":
        return pa.bool_()
    return pa.string()


#: the events table's columns as Arrow types, for bulk loads
EVENT_SCHEMA = pa.schema([(c, _arrow_type(c)) for c in EVENT_COLUMNS])
_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)


class DuckDBEventStore:
    dialect = "duckdb"

    def __init__(
        self,
        path: str,
        *,
        group_commit_ms: float = 0.0,
        dedupe_window_days: int = 7,
        dedupe_capacity: int = 2_000_000,
        rollups: bool = True,
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
        self._appenders: dict[str, Any] = {}
        #: bumped after every commit that changed the identity map (the query engine caches
        #: "this project has no identities" until it moves)
        self.identity_version = 0
        #: the events columns the hourly rollup counts, None when queries must not use it
        self.rollup_dims: frozenset[str] | None = frozenset(rollup.DIMENSIONS) if rollups else None
        #: whether queries may read the session fragments (``session_hourly``)
        self.session_fragments = rollups
        #: whether retention may read the per-user daily activity (``activity.py``)
        self.activity_days = rollups
        self._rollups = rollups
        self._watermark = rollup.watermark(self._con)
        if rollups:  # fragments of events counted before they existed (a one-time build)
            rollup.catch_up_summaries(self._con, self._watermark)
        self._maintained = 0.0
        self._behind = rollups
        self._writer = GroupWriter(
            self._commit,
            name="duckdb-writer",
            group_commit_ms=group_commit_ms,
            # while the rollup is behind, idle moments go to catching it up
            upkeep=self._maintain,
            upkeep_wait=lambda: 0.01 if self._behind else _MAINTAIN_EVERY_S,
            upkeep_every_s=_MAINTAIN_EVERY_S,
        )

    # -- writes ---------------------------------------------------------------------------

    async def append(self, events: Sequence[Event], bots: Sequence[BotHit] = ()) -> list[bool]:
        return await self._writer.submit(Write(events=events, bots=bots))

    async def add_identity(self, identity: Identity) -> None:
        await self._writer.submit(Write(identities=[identity]))

    async def flush(self) -> None:
        await self._writer.submit(Write())

    def append_sync(self, events: Sequence[Event]) -> list[bool]:
        """Blocking append, for bulk loaders and tools outside the event loop."""
        return self._writer.submit_sync(Write(events=events))

    def _maintain(self, until: datetime | None = None) -> None:
        """One step of rollup upkeep (writer thread only; a failure is logged, not raised)."""
        if not self._rollups:
            return
        self._maintained = time.monotonic()
        if until is None:
            until = datetime.now(UTC).replace(tzinfo=None) - rollup.LAG
        try:
            self._watermark = rollup.advance(self._con, until, self._watermark)
            self._behind = self._watermark < rollup.floor_hour(until)
        except Exception:
            self._behind = False
            log.exception("rollup upkeep failed; the rollup stays at %s", self._watermark)

    def advance_rollup(self, until: datetime) -> datetime:
        """Count every event received before ``until`` (naive UTC) into the rollup now
        (for tests and loaders: the writer does it on its own, a step at a time)."""

        def steps() -> None:
            while True:
                before = self._watermark
                self._watermark = rollup.advance(self._con, until, before)
                if self._watermark == before:
                    return

        self._call(steps)
        return self._watermark

    def _commit(self, group: list[Write]) -> list[Outcome]:
        results, candidates, added = mark_new(group, self._seen)
        fresh = [event for _, _, event in candidates]
        bots = [b for w in group for b in w.bots]
        identities = [i for w in group for i in w.identities]
        try:
            self._write(fresh, bots, identities)
        except Exception as exc:
            log.exception("commit failed")
            for key in added:
                self._seen.discard(key)
            return [exc] * len(group)
        if identities:
            self.identity_version += 1
        return list(results)

    def _write(self, fresh: list[Event], bots: list[BotHit], identities: list[Identity]) -> None:
        """Commit one group in one transaction.

        Rows go in through DuckDB appenders: converting a group of Python rows is one call
        that keeps the GIL, and the flush is one statement that releases it. An Arrow scan
        instead calls back into Python (and so waits for the GIL) several times per insert,
        which under a busy event loop made each commit several times longer. The common
        case, events only, is a single autocommit flush.
        """
        if not (fresh or bots or identities):
            return
        # events received before the rollup's watermark are counted into it in this commit
        mark = int((self._watermark - _EPOCH).total_seconds() * 1000)
        late = [e for e in fresh if e.received_at < mark] if self._rollups else []
        if not bots and not identities and not late:
            self._append_events(fresh)
            return
        con = self._con
        con.execute("BEGIN")
        try:
            if fresh:
                self._append_events(fresh)
            if late:
                rollup.count_late(con, self._append, late)
            if bots:
                self._append("bot_hits", [_bot_row(b) for b in bots])
            for ident in identities:
                con.execute(
                    "INSERT OR REPLACE INTO identities "
                    "VALUES (?, ?, ?, make_timestamp(?::BIGINT * 1000))",
                    [ident.project_id, ident.previous_id, ident.user_id, ident.created_at],
                )
            con.execute("COMMIT")
        except Exception:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise

    def _append(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        appender = self._appenders.get(table)
        if appender is None:
            appender = self._appenders[table] = self._con.appender(table)
        try:
            appender.append_rows(rows)
            appender.flush()
        except Exception:
            appender.clear()  # never carry a failed group's rows into the next flush
            raise

    def _append_events(self, events: list[Event]) -> None:
        """Events through the appender (one conversion call; the flush is one statement)."""
        self._append("events", _event_rows(events))

    def append_table(self, table: pa.Table, into: str = "events") -> int:
        """Bulk-load an Arrow table (columns in the table's order) in one transaction, with
        no dedupe: for loaders that generate fresh ids (``bench/datagen.py``). It runs in the
        writer thread, between group commits. Returns the rows written."""
        if into not in ("events", "bot_hits", "identities"):
            raise ValueError(f"cannot bulk-load into {into!r}")
        verb = "INSERT OR REPLACE" if into == "identities" else "INSERT"

        def load() -> None:
            con = self._con
            con.register("_bulk", table)
            con.execute("BEGIN")
            try:
                con.execute(f"{verb} INTO {into} SELECT * FROM _bulk")
                if into == "events" and self._rollups:
                    # rows received before the watermark would otherwise never be counted
                    rollup.count_bulk(con, "_bulk", self._watermark)
                con.execute("COMMIT")
            except Exception:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
            finally:
                con.unregister("_bulk")
            if into == "identities":
                self.identity_version += 1

        self._call(load)
        return int(table.num_rows)

    def _call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in the writer thread (serialized with commits and upkeep); wait for it."""
        self._writer.call(fn)

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
        if self._writer.closed:
            return
        self._writer.close()
        try:
            self._con.execute("CHECKPOINT")
        finally:
            self._con.close()


def _event_rows(events: Sequence[Event]) -> list[list[Any]]:
    """Events as appender rows: the two ms timestamps as naive UTC datetimes (a group's events
    share a few distinct times, so each is converted once)."""
    times: dict[int, datetime] = {}
    rows = []
    for event in events:
        row = list(astuple(event))
        for i in (3, 4):  # timestamp, received_at
            ms = row[i]
            at = times.get(ms)
            if at is None:
                at = times[ms] = _EPOCH + _MS * ms
            row[i] = at
        rows.append(row)
    return rows


def _bot_row(bot: BotHit) -> tuple[Any, ...]:
    return (bot.project_id, _EPOCH + _MS * bot.timestamp, bot.category, bot.actor, bot.name)


def events_table(events: Sequence[Event]) -> pa.Table:
    """Events as an Arrow table in ``EVENT_SCHEMA``: rows to columns in C, one array each."""
    columns = zip(*map(astuple, events), strict=True)
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, EVENT_SCHEMA, strict=True)],
        schema=EVENT_SCHEMA,
    )
