"""EventStore on DuckDB.

One connection owns the file. The shared group-commit writer (``storage/writer.py``) takes
whatever has gathered and makes it durable in one go, so many small concurrent requests cost
one sync; each request's future resolves only after that. Reads use their own cursors on the
same connection (DuckDB's MVCC lets them run beside the writer).

Durable means in the ingest journal (``storage/journal.py``, ``events.duckdb.journal`` beside
the database): one frame per group, written and synced, then acknowledged. Journalled events
move into DuckDB every ``apply_ms`` (or sooner when many have gathered), in one transaction
that also records how far into the journal it got, so a DuckDB commit's fixed cost (several
ms of CPU) is paid per few thousand events rather than per group. That transaction runs in
an apply thread (``_start_apply``) while the writer goes on syncing and acknowledging; the
writer waits for it before it touches DuckDB itself (``_settle_apply``), so DuckDB still has
one writer. Every read first has the writer apply what is still pending, so an acknowledged
event is always visible to the next query. At start-up, frames past the recorded offset
(acknowledged before a crash) are applied; at shutdown everything is applied and the journal
emptied.

Events travel as rows (tuples in ``EVENT_COLUMNS`` order, times as unix ms): the columnar
batch path makes them directly (``append_rows``), ``append`` turns ``Event``s into rows; the
journal's frames hold rows as JSON (``frames.py``), and an apply has DuckDB insert the rows of
its frames in one statement (``frames.insert``).

Between commits the writer keeps the hourly rollup current (``rollup.py``); bulk loads and
other maintenance run in the writer thread too, so every write is serialized through it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from agentlytics.model.event import BotHit, Event, Identity
from agentlytics.storage.arrow import event_of
from agentlytics.storage.dedupe import RecentIds, id_key, row_keys
from agentlytics.storage.duckdb import bulk, dims, frames, properties, rollup, users
from agentlytics.storage.duckdb.frames import Row
from agentlytics.storage.duckdb.retention import Retention
from agentlytics.storage.duckdb.schema import migrate
from agentlytics.storage.journal import HEADER_SIZE, Journal, JournalFull, Position
from agentlytics.storage.ports import Rows
from agentlytics.storage.writer import GroupWriter, Outcome, Write, new_rows

log = logging.getLogger(__name__)

_MAINTAIN_EVERY_S = 30.0  # rollup upkeep at least this often
#: journalled events are applied to DuckDB once this many have gathered (or ``apply_ms``)
APPLY_ROWS = 20_000
#: while an apply is in flight, the writer waits for it once this many events are pending
MAX_PENDING = 4 * APPLY_ROWS
#: from this many rows on, an apply inserts them in one statement (``frames.insert``), not
#: through the appender
INSERT_ROWS = 256
#: DuckDB checkpoints its WAL into the file once the WAL is this large. Each checkpoint
#: recompresses the table's unfinished row group, so at DuckDB's default (16 MB, one
#: checkpoint per ~40,000 events) ingest spent more CPU checkpointing than inserting; at
#: 128 MB the insert and its checkpoints cost about half (the price: up to ~130 MB more
#: memory for the rows not yet checkpointed, and a longer WAL replay after a crash).
WAL_CHECKPOINT = "128MB"
_EPOCH = datetime(1970, 1, 1)


class DuckDBEventStore:
    dialect = "duckdb"
    #: reads on separate cursors may run side by side (``QueryEngine.together``)
    concurrent_reads = True

    def __init__(
        self,
        path: str,
        *,
        group_commit_ms: float = 0.0,
        dedupe_window_days: int = 7,
        dedupe_capacity: int = 2_000_000,
        rollups: bool = True,
        journal: bool = True,
        apply_ms: float = 500.0,
        retention_days: int = 0,
    ) -> None:
        """``journal``: acknowledge once events are in the ingest journal (see above); off,
        or for an in-memory database, each group is committed to DuckDB before its ack."""
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._con = duckdb.connect(path)
        self._con.execute("SET preserve_insertion_order = false")
        self._con.execute(f"SET wal_autocheckpoint = '{WAL_CHECKPOINT}'")
        migrate(self._con)
        self._group_commit_s = group_commit_ms / 1000
        self._seen = RecentIds(dedupe_capacity)
        self._warm_dedupe(dedupe_window_days, dedupe_capacity)
        self._appenders: dict[str, Any] = {}
        #: event rows and bot hits journalled (acknowledged) but not yet in DuckDB
        self._pending = frames.Pending()
        self._apply_s = apply_ms / 1000
        self._retention = Retention(retention_days)
        #: bumped after every commit that changed the identity map (the query engine caches
        #: "this project has no identities" until it moves)
        self.identity_version = 0
        #: the events columns the hourly rollup counts, None when queries must not use it
        self.rollup_dims: frozenset[str] | None = frozenset(rollup.DIMENSIONS) if rollups else None
        #: whether queries may read the session fragments (``session_hourly``)
        self.session_fragments = rollups
        #: whether retention may read the per-user daily activity (``activity.py``) and the
        #: users' first events (``first_seen.py``)
        self.activity_days = rollups
        #: whether user counts may read the hourly users (``users.py``)
        self.user_hours = rollups
        #: the events columns whose users per hour breakdowns may read (``dims.py``)
        self.dim_columns = frozenset(dims.COLUMNS) if rollups else frozenset()
        #: whether property reads may read the property summaries (``properties.py``); the
        #: keys whose values they keep are ``materialized``
        self.property_summaries = rollups
        self._keys = properties.Materializer(self._con, rollups)
        self._rollups = rollups
        self._watermark = rollup.watermark(self._con)
        if rollups:  # fragments of events counted before they existed (a one-time build)
            rollup.catch_up_summaries(self._con, self._watermark)
        #: each project's highest user number (``users.py``); it may lag (readers allow it)
        self.user_numbers = users.highest(self._con)
        self._journal: Journal | None = None
        #: the apply thread, and the apply in flight there: (its future, what it applies)
        self._applier = concurrent.futures.ThreadPoolExecutor(1, "duckdb-apply")
        self._applying: tuple[concurrent.futures.Future[None], frames.Pending] | None
        self._applying = None
        if journal and path != ":memory:":
            self._journal = Journal(path + ".journal")
            self._recover()
        self._retention.expire(self._con)
        self._behind = rollups
        self._writer = GroupWriter(
            self._commit,
            name="duckdb-writer",
            group_commit_ms=group_commit_ms,
            after=self._apply_if_due,
            # while the rollup is behind, idle moments go to catching it up; pending
            # journalled events are applied when their time comes
            upkeep=self._maintain,
            upkeep_wait=self._idle_wait,
            upkeep_every_s=_MAINTAIN_EVERY_S,
        )

    # -- writes ---------------------------------------------------------------------------

    async def append(self, events: Sequence[Event], bots: Sequence[BotHit] = ()) -> list[bool]:
        return await self._writer.submit(Write(events=events, bots=bots))

    async def append_rows(self, rows: Sequence[Row]) -> list[bool]:
        """``append`` for events already made rows (``storage/arrow.rows_table``), as the
        columnar batch path makes them (``ingest/columnar.py``)."""
        return await self._writer.submit(Write(rows=rows))

    async def add_identity(self, identity: Identity) -> None:
        await self._writer.submit(Write(identities=[identity]))

    async def flush(self) -> None:
        await self._writer.submit(Write())

    def append_sync(self, events: Sequence[Event]) -> list[bool]:
        """Blocking append, for bulk loaders and tools outside the event loop."""
        return self._writer.submit_sync(Write(events=events))

    def _idle_wait(self) -> float:
        """How long the writer may wait for work before its upkeep is due."""
        keys = self._keys
        wait = 0.01 if self._behind or keys.wanted or keys.filling else _MAINTAIN_EVERY_S
        if self._pending:
            wait = min(wait, max(0.0, self._pending.since + self._apply_s - time.monotonic()))
        if self._applying is not None:  # to settle it (and retry it if it failed)
            wait = min(wait, self._apply_s)
        return wait

    def _maintain(self, until: datetime | None = None) -> None:
        """Upkeep (writer thread only; a failure is logged, not raised): apply the journal
        when due, then one step of rollup upkeep."""
        self._apply_if_due()
        if until is None:
            until = datetime.now(UTC).replace(tzinfo=None) - rollup.LAG
        expiring = self._retention.due()
        keys = self._keys
        if not (
            expiring
            or (self._rollups and (self._behind or self._watermark < rollup.floor_hour(until)))
            or keys.wanted
            or keys.filling
        ):
            return  # nothing to do in DuckDB (an apply may be in flight)
        self._settle_apply()
        if expiring:
            try:
                self._retention.expire(self._con)
            except Exception:
                log.exception("expiring old events failed; retrying in an hour")
        if not self._rollups:
            return
        try:
            before = self._watermark
            self._watermark = rollup.advance(self._con, until, before)
            self._behind = self._watermark < rollup.floor_hour(until)
            if self._watermark != before:
                self.user_numbers = users.highest(self._con)
        except Exception:
            self._behind = False
            log.exception("rollup upkeep failed; the rollup stays at %s", self._watermark)
        self._materialize_wanted()
        self._fill_step()

    @property
    def materialized(self) -> dict[str, frozenset[str]]:
        """The property keys whose values the summaries keep, per project."""
        return self._keys.ready

    def materialize(self, project_id: str, key: str) -> None:
        """Ask for the values of a (checked) property key to be kept from now on
        (``properties.py``): the writer does it in its upkeep, without delaying this call."""
        self._keys.ask(project_id, key)

    def _materialize_wanted(self) -> None:
        """List the keys asked for (writer thread). Journalled events are applied first:
        every event received before the listing's mark is then stored, for
        ``properties.fill_step`` to find."""
        if self._keys.wanted:
            self._apply_pending()
            if self._pending:  # not applied (logged): listing now could count some twice
                return
        self._keys.list_wanted(self._con)

    def _fill_step(self) -> None:
        """One step of writing the listed keys' past rows (writer thread)."""
        self._keys.step(self._con)

    def fill_materialized(self) -> None:
        """Write the listed keys' past rows to the end now (for tests and loaders: the
        writer does it on its own, a step at a time)."""

        def fill() -> None:
            self._materialize_wanted()
            while self._keys.filling:
                self._fill_step()

        self._call(fill)

    def advance_rollup(self, until: datetime) -> datetime:
        """Count every event received before ``until`` (naive UTC) into the rollup now
        (for tests and loaders: the writer does it on its own, a step at a time)."""

        def steps() -> None:
            self._apply_pending()
            while True:
                before = self._watermark
                self._watermark = rollup.advance(self._con, until, before)
                if self._watermark == before:
                    self.user_numbers = users.highest(self._con)
                    return

        self._call(steps)
        return self._watermark

    def _commit(self, group: list[Write]) -> list[Outcome]:
        results, fresh, added = new_rows(group, self._seen)
        bots = [b for w in group for b in w.bots]
        identities = [i for w in group for i in w.identities]
        journal = self._journal
        try:
            if journal is None:
                self._write(frames.Pending(fresh, bots), identities)
            elif identities:
                self._settle_apply()
                # rare (one per /identify): straight to DuckDB, with what is pending, so
                # queries resolve the new identity at once
                pending = self._pending.take()
                try:
                    self._write(
                        frames.Pending(pending.rows + fresh, pending.bots + bots),
                        identities,
                        (journal.generation, journal.end),
                    )
                except Exception:
                    self._pending.put_back(pending)  # acknowledged: to be applied later
                    raise
            elif fresh or bots:
                frame = frames.encode(fresh, bots)
                try:
                    journal.append(frame)
                except JournalFull:  # rare: the apply fell a whole lap behind
                    self._apply_pending()
                    journal.append(frame)
                self._pending.add(fresh, bots, frame)
        except Exception as exc:
            log.exception("commit failed")
            for key in added:
                self._seen.discard(key)
            return [exc] * len(group)
        if identities:
            self.identity_version += 1
        return list(results)

    # -- the journal ----------------------------------------------------------------------

    def _apply_if_due(self) -> None:
        """After a group's acknowledgements (writer thread): apply the journal if enough
        has gathered or the oldest pending event has waited ``apply_ms``, in the apply
        thread, so that the writer goes on syncing and acknowledging meanwhile (see
        ``_start_apply``)."""
        if self._applying is not None:
            if not self._applying[0].done() and len(self._pending.rows) < MAX_PENDING:
                return  # one apply at a time; the next once it has finished
            self._settle_apply()
        if not self._pending:
            return
        journal = self._journal
        if journal is not None and (
            len(self._pending.rows) >= APPLY_ROWS
            or time.monotonic() - self._pending.since >= self._apply_s
        ):
            self._start_apply()

    def _start_apply(self) -> None:
        """Hand what is pending to the apply thread (writer thread). DuckDB's insert runs
        mostly without the GIL, and meanwhile the writer syncs and acknowledges the next
        groups: applied by the writer itself, every apply (~0.1 s for 20,000 events) held
        up every acknowledgement. The writer touches DuckDB only after ``_settle_apply``,
        so DuckDB still sees one writer."""
        journal = self._journal
        assert journal is not None
        pending = self._pending
        future = self._applier.submit(self._write, pending, (), (journal.generation, journal.end))
        # in this order: a read (``_sync``) must always find them pending or in flight
        self._applying = (future, pending)
        self._pending = frames.Pending()

    def _settle_apply(self) -> None:
        """Wait for the apply in flight, if any (writer thread); if it failed, its events
        are pending again, to be retried in ``apply_ms``."""
        if self._applying is None:
            return
        future, applying = self._applying
        try:
            future.result()
        except Exception:
            log.exception("applying the ingest journal failed; retrying in %.1f s", self._apply_s)
            self._pending.put_back(applying)
        self._applying = None

    def _apply_pending(self) -> None:
        """Move every journalled event into DuckDB now, in one transaction (writer thread)."""
        self._settle_apply()
        journal = self._journal
        pending = self._pending
        if journal is None or not pending:
            return
        try:
            self._write(pending, (), (journal.generation, journal.end))
        except Exception:
            log.exception("applying the ingest journal failed; retrying in %.1f s", self._apply_s)
            pending.since = time.monotonic()
            return
        self._pending = frames.Pending()

    def _rotate(self, version: int = 2) -> None:
        """Start a new, empty journal at the next lap (every frame is applied); ``version``
        1 for a clean stop, so that older releases open the journal too."""
        journal = self._journal
        assert journal is not None
        generation = journal.generation + 1
        # recorded first: a crash before the reset leaves frames of earlier laps on disk,
        # which the next start recognises as applied
        self._con.execute(
            "UPDATE journal_state SET generation = ?, applied = ?", [generation, HEADER_SIZE]
        )
        journal.reset(generation, version)

    def _recover(self) -> None:
        """At start-up: apply the frames acknowledged but not applied before the last stop,
        then start a new, empty lap."""
        journal = self._journal
        assert journal is not None
        [(generation, applied)] = self._con.execute(
            "SELECT generation, applied FROM journal_state"
        ).fetchall()
        rows: list[Row] = []
        bots: list[BotHit] = []
        for payload in journal.unapplied(generation, applied):
            frame_rows, frame_bots = frames.decode(payload)
            rows += frame_rows
            bots += frame_bots
        fresh = [r for r in rows if self._seen.add(id_key(r[0], r[1]))]
        if fresh or bots:
            log.warning(
                "ingest journal: applying %d events acknowledged before the last stop",
                len(fresh),
            )
            self._write(frames.Pending(fresh, bots), (), (journal.generation, journal.end))
        # past a frame of the next lap that a wrap cut short by the crash may have left
        journal.generation = max(journal.generation + 1, generation)
        self._rotate()

    # -- DuckDB ---------------------------------------------------------------------------

    def _write(
        self,
        events: frames.Pending,
        identities: Sequence[Identity] = (),
        applied: Position | None = None,
    ) -> None:
        """Commit one group in one transaction; ``applied``: the journal position it reaches
        (recorded in the transaction, and handed to the journal once committed).

        With the journal, this is an apply: thousands of events at once, inserted in one
        statement (``frames.insert``: from their journal frames, or as an Arrow table when
        there are none, at start-up, or when the retention drops some of the rows). Without
        it (``journal=False``, in-memory), each group commits here before its ack: small
        groups go in through DuckDB appenders, whose conversion is one call and whose flush
        is one statement, and events alone in one autocommit flush.
        """
        fresh, bots = self._retention.retained(events.rows, events.bots)
        held = events.frames if len(fresh) == len(events.rows) else []
        if not (fresh or bots or identities or applied is not None):
            return
        # events received before the rollup's watermark are counted into it in this commit
        mark = int((self._watermark - _EPOCH).total_seconds() * 1000)
        late = [r for r in fresh if r[frames.RECEIVED_AT] < mark] if self._rollups else []
        if not bots and not identities and not late and applied is None:
            self._append_events(fresh)
            return
        con = self._con
        con.execute("BEGIN")
        try:
            if applied is not None:
                con.execute("UPDATE journal_state SET generation = ?, applied = ?", list(applied))
            if fresh and applied is not None and len(fresh) >= INSERT_ROWS:
                frames.insert(con, fresh, held)
            elif fresh:
                self._append_events(fresh)
            if late:
                rollup.count_late(con, self._append, [event_of(r) for r in late])
            if bots:
                self._append("bot_hits", [frames.bot_row(b) for b in bots])
            for ident in identities:
                con.execute(
                    "INSERT OR REPLACE INTO identities "
                    "VALUES (?, ?, ?, make_timestamp(?::BIGINT * 1000))",
                    [ident.project_id, ident.previous_id, ident.user_id, ident.created_at],
                )
            users.identify(con, identities)
            con.execute("COMMIT")
        except Exception:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        if applied is not None and self._journal is not None:
            self._journal.applied = applied  # its frames up to there may be written over

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

    def _append_events(self, rows: list[Row]) -> None:
        """Event rows through the appender (one conversion call; the flush is one statement)."""
        self._append("events", frames.appender_rows(rows))

    def append_table(self, table: pa.Table, into: str = "events") -> int:
        """Bulk-load an Arrow table (columns in the table's order) in one transaction, with
        no dedupe: for loaders that generate fresh ids (``bench/datagen.py``). It runs in the
        writer thread, between group commits. Returns the rows written."""
        if into not in bulk.TABLES:
            raise ValueError(f"cannot bulk-load into {into!r}")

        def load() -> None:
            # a key being filled counts every stored event received before its mark, and
            # the load counts its rows for every listed key: fills finish first, or loaded
            # rows received before a mark would be counted twice
            while self._keys.filling:
                self._fill_step()
            bulk.load(self._con, table, into, self._watermark if self._rollups else None)
            self.user_numbers = users.highest(self._con)
            if into == "identities":
                self.identity_version += 1
            elif self._retention.days:
                self._retention.expire(self._con)

        self._call(load)
        return int(table.num_rows)

    def _call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in the writer thread (serialized with commits, upkeep and applies);
        wait for it."""

        def run() -> None:
            self._settle_apply()
            fn()

        self._writer.call(run)

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
                self._seen.add_all(row_keys(reversed(batch)))
        finally:
            cursor.close()

    # -- reads ----------------------------------------------------------------------------

    def _sync(self) -> None:
        """Before a read: have the writer apply what the journal holds, so the read sees
        every acknowledged event."""
        if (
            (self._pending or self._applying is not None)
            and not self._writer.closed  # closing applied them, or they wait for next start
            and threading.current_thread() is not self._writer.thread
        ):
            self._writer.call(self._apply_pending)

    def query(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        self._sync()
        cursor = self._con.cursor()
        try:
            cursor.execute(sql, list(params))
            columns = [d[0] for d in cursor.description or []]
            return Rows(columns=columns, rows=cursor.fetchall())
        finally:
            cursor.close()

    def with_cursor(self, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        """Run ``fn`` with a private cursor (for bulk readers such as exports)."""
        self._sync()
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
            if self._journal is not None:  # the writer has stopped: this thread may write
                self._apply_pending()
                if not self._pending:
                    self._rotate(version=1)
            self._con.execute("CHECKPOINT")
        finally:
            self._applier.shutdown()
            self._con.close()
            if self._journal is not None:
                self._journal.close()
