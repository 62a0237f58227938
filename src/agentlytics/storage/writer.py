"""The group-commit writer every event store shares.

One writer thread takes write requests from a queue and commits whatever has gathered
while it was busy in one go (group commit), so many small concurrent requests cost one
commit. Each request's future resolves only after that commit: asyncio futures are settled
with one ``call_soon_threadsafe`` per commit and event loop (far cheaper per request than
wrapping a ``concurrent.futures.Future``); blocking callers get a ``concurrent.futures``
future.

A store supplies ``commit(group) -> outcomes`` (one outcome per write: the per-event "new"
flags, or the exception that failed the group), optionally ``after`` to run once a group's
writers have their answers (work that must not delay them), and upkeep to run when the
queue is idle and at least every so often under load.
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
from dataclasses import dataclass
from typing import Any

from msgspec.structs import astuple

from agentlytics.model.event import BotHit, Event, Identity
from agentlytics.storage.dedupe import RecentIds, id_key, row_keys

log = logging.getLogger(__name__)

MAX_GROUP = 20_000  # events per commit at most

#: a write's result: one "stored now (not a duplicate)" flag per event, or what failed it
Outcome = list[bool] | BaseException


@dataclass(slots=True)
class Write:
    events: Sequence[Event] = ()
    #: events as rows (``storage/arrow.rows_table``), from a store's ``append_rows``
    rows: Sequence[tuple[Any, ...]] = ()
    bots: Sequence[BotHit] = ()
    identities: Sequence[Identity] = ()
    #: the event loop awaiting ``future`` (an asyncio future); None for a blocking caller,
    #: whose ``future`` is a concurrent.futures.Future
    loop: asyncio.AbstractEventLoop | None = None
    future: Any = None
    #: work to run in the writer thread before this group commits (maintenance, bulk loads)
    call: Callable[[], None] | None = None


def _settle(items: list[tuple[asyncio.Future[list[bool]], Outcome]]) -> None:
    """Resolve one commit's futures of one event loop, on that loop (one wake-up per group)."""
    for future, outcome in items:
        if future.done():  # the request was cancelled while its events were committed
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def resolve(group: Sequence[Write], outcomes: Sequence[Outcome]) -> None:
    """Hand each write its outcome: blocking callers directly, each event loop in one call."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[list[bool]], Outcome]]]
    by_loop = {}
    for write, outcome in zip(group, outcomes, strict=True):
        if write.loop is None:
            if isinstance(outcome, BaseException):
                write.future.set_exception(outcome)
            else:
                write.future.set_result(outcome)
        else:
            by_loop.setdefault(write.loop, []).append((write.future, outcome))
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop has closed: nobody is waiting
            loop.call_soon_threadsafe(_settle, items)


def mark_new(
    group: Sequence[Write], seen: RecentIds
) -> tuple[list[list[bool]], list[tuple[list[bool], int, Event]], list[int]]:
    """Dedupe a group against the ids seen recently (and within the group).

    Returns each write's flags, the candidates to store as (flags, index, event), and the
    keys added to ``seen`` (to forget again if the commit fails).
    """
    results: list[list[bool]] = []
    candidates: list[tuple[list[bool], int, Event]] = []
    added: list[int] = []
    add = seen.add
    for write in group:
        flags: list[bool] = []
        for event in write.events:
            key = id_key(event.project_id, event.event_id)
            new = add(key)
            if new:
                candidates.append((flags, len(flags), event))
                added.append(key)
            flags.append(new)
        results.append(flags)
    return results, candidates, added


def new_rows(
    group: Sequence[Write], seen: RecentIds
) -> tuple[list[list[bool]], list[tuple[Any, ...]], list[int]]:
    """``mark_new`` for a store that keeps events as rows: each write's flags, the rows to
    store (a write's events made rows), and the keys added to ``seen``. Each write's keys
    go to ``seen`` at once (``RecentIds.add_all``): per row, the calls cost ~0.2 µs more."""
    results: list[list[bool]] = []
    fresh: list[tuple[Any, ...]] = []
    added: list[int] = []
    for write in group:
        rows = write.rows or [astuple(e) for e in write.events]
        keys = row_keys(rows)
        flags = seen.add_all(keys)
        if all(flags):  # the common case: no duplicate
            fresh += rows
            added += keys
        else:
            fresh += [row for row, new in zip(rows, flags, strict=True) if new]
            added += [key for key, new in zip(keys, flags, strict=True) if new]
        results.append(flags)
    return results, fresh, added


class GroupWriter:
    """The writer thread and its queue. ``commit`` runs in that thread only."""

    def __init__(
        self,
        commit: Callable[[list[Write]], Sequence[Outcome]],
        *,
        name: str,
        group_commit_ms: float = 0.0,
        upkeep: Callable[[], None] | None = None,
        upkeep_wait: Callable[[], float] | None = None,
        upkeep_every_s: float = 30.0,
        after: Callable[[], None] | None = None,
    ) -> None:
        self._commit = commit
        self._after = after
        self._group_commit_s = group_commit_ms / 1000
        self._upkeep = upkeep
        self._upkeep_wait = upkeep_wait
        self._upkeep_every_s = upkeep_every_s
        self._upkept = time.monotonic()
        self._queue: queue.SimpleQueue[Write | None] = queue.SimpleQueue()
        self.closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def thread(self) -> threading.Thread:
        """The writer thread (where ``commit``, ``after`` and upkeep run)."""
        return self._thread

    async def submit(self, write: Write) -> list[bool]:
        """Queue a write from an event loop; returns its flags once committed."""
        if self.closed:
            raise RuntimeError("event store is closed")
        write.loop = asyncio.get_running_loop()
        write.future = write.loop.create_future()
        self._queue.put(write)
        result: list[bool] = await write.future
        return result

    def submit_sync(self, write: Write) -> list[bool]:
        """Queue a write from a blocking caller and wait for its commit."""
        if self.closed:
            raise RuntimeError("event store is closed")
        write.future = concurrent.futures.Future()
        self._queue.put(write)
        result: list[bool] = write.future.result()
        return result

    def call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in the writer thread (serialized with commits and upkeep); wait for it."""
        if self.closed:
            raise RuntimeError("event store is closed")
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def run() -> None:
            try:
                fn()
                done.set_result(None)
            except Exception as exc:
                done.set_exception(exc)

        self._queue.put(Write(call=run, future=concurrent.futures.Future()))
        done.result()

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        if self.closed:
            return
        self.closed = True
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        get = self._queue.get
        while True:
            try:
                # with upkeep, idle moments go to it
                wait = self._upkeep_wait() if self._upkeep_wait is not None else None
                first = get(timeout=wait)
            except queue.Empty:
                self._run_upkeep()
                continue
            if first is None:
                return
            group = [first]
            count = len(first.events) + len(first.rows)
            deadline = time.monotonic() + self._group_commit_s
            stop = False
            while count < MAX_GROUP:
                try:
                    timeout = deadline - time.monotonic()
                    item = self._queue.get_nowait() if timeout <= 0 else get(timeout=timeout)
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                group.append(item)
                count += len(item.events) + len(item.rows)
            self._commit_group(group)
            if stop:
                return
            # between commits: when nothing waits, or at least every so often under load
            if self._upkeep is not None and (
                self._queue.empty() or time.monotonic() - self._upkept > self._upkeep_every_s
            ):
                self._run_upkeep()

    def _run_upkeep(self) -> None:
        if self._upkeep is not None:
            self._upkept = time.monotonic()
            self._upkeep()

    def _commit_group(self, group: list[Write]) -> None:
        for write in group:
            if write.call is not None:
                write.call()
        try:
            outcomes = self._commit(group)
        except BaseException as exc:  # the store's commit handles its own errors; be safe
            outcomes = [exc] * len(group)
        resolve(group, outcomes)
        if self._after is not None:
            try:
                self._after()
            except Exception:  # the store logs its own; the writer thread must live on
                log.exception("after-commit work failed")
