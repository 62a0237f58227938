"""Coordinator for one process: fixed-window counters, slots, and a live ring buffer.

The live buffer keeps what each ``publish`` was handed as one entry (numbered first, first +
1, …), without a Python step per event, and reads an event of it only when asked: a
publisher may hand a sequence that makes each event's dict on access (the ingest pipeline
does), so that events nobody reads (most, with nobody on ``/stream`` or ``/live``) are never
made. At most ``LIVE_MAX_EVENTS`` of the latest events are kept."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from agentlytics.storage.ports import RateDecision

LIVE_WINDOW_MS = 5 * 60 * 1000
LIVE_MAX_EVENTS = 10_000


class _Published:
    """One ``publish``: its events, the number of the first, when; ``skip``: how many of
    its first events are no longer kept."""

    __slots__ = ("at", "events", "first", "skip")

    def __init__(self, first: int, at: int, events: Sequence[dict[str, Any]]) -> None:
        self.first, self.at, self.events, self.skip = first, at, events, 0

    def after(self, cursor: int) -> Iterator[tuple[int, dict[str, Any]]]:
        """(number, event) of the events kept numbered after ``cursor``."""
        events = self.events
        for i in range(max(self.skip, cursor + 1 - self.first), len(events)):
            yield self.first + i, events[i]


class _Live:
    def __init__(self) -> None:
        self.seq = 0
        self.buffer: deque[_Published] = deque()
        self.kept = 0  # events in the buffer
        self.changed = asyncio.Condition()
        #: subscribers waiting on ``changed`` (publish skips the condition when there are none)
        self.waiting = 0

    def add(self, events: Sequence[dict[str, Any]]) -> None:
        self.buffer.append(_Published(self.seq + 1, int(time.time() * 1000), events))
        self.seq += len(events)
        self.kept += len(events)
        while self.kept > LIVE_MAX_EVENTS:  # forget the oldest
            oldest = self.buffer[0]
            left = len(oldest.events) - oldest.skip
            excess = self.kept - LIVE_MAX_EVENTS
            if left <= excess:
                self.buffer.popleft()
                self.kept -= left
            else:
                oldest.skip += excess
                self.kept -= excess


class MemoryCoordinator:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, int]] = {}  # key -> (window start ms, count)
        self._slots: dict[str, dict[str, float]] = {}
        self._live: dict[str, _Live] = {}

    async def hit(self, key: str, cost: int, limit: int, window_s: int) -> RateDecision:
        now = int(time.time() * 1000)
        window_ms = window_s * 1000
        start = now - now % window_ms
        current_start, count = self._windows.get(key, (start, 0))
        if current_start != start:
            count = 0
        reset_at = start + window_ms
        if count + cost > limit:
            return RateDecision(allowed=False, count=count, limit=limit, reset_at_ms=reset_at)
        self._windows[key] = (start, count + cost)
        if len(self._windows) > 100_000:
            self._windows = {k: v for k, v in self._windows.items() if v[0] == start}
        return RateDecision(allowed=True, count=count + cost, limit=limit, reset_at_ms=reset_at)

    async def acquire_slot(self, key: str, limit: int, ttl_s: int) -> str | None:
        now = time.monotonic()
        slots = {t: exp for t, exp in self._slots.get(key, {}).items() if exp > now}
        if len(slots) >= limit:
            self._slots[key] = slots
            return None
        token = uuid.uuid4().hex
        slots[token] = now + ttl_s
        self._slots[key] = slots
        return token

    async def release_slot(self, key: str, token: str) -> None:
        self._slots.get(key, {}).pop(token, None)

    def _channel(self, project_id: str) -> _Live:
        live = self._live.get(project_id)
        if live is None:
            live = self._live[project_id] = _Live()
        return live

    async def publish(self, project_id: str, events: Sequence[dict[str, Any]]) -> None:
        if not events:
            return
        live = self._channel(project_id)
        live.add(events)
        if live.waiting:
            async with live.changed:
                live.changed.notify_all()

    async def recent(self, project_id: str, since_ms: int) -> list[dict[str, Any]]:
        live = self._live.get(project_id)
        if live is None:
            return []
        floor = max(since_ms, int(time.time() * 1000) - LIVE_WINDOW_MS)
        return [event for p in live.buffer if p.at >= floor for _, event in p.after(0)]

    async def subscribe(
        self, project_id: str, last_id: str | None = None
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        live = self._channel(project_id)
        cursor = live.seq
        if last_id is not None and last_id.isdigit():
            cursor = min(int(last_id), live.seq)
        while True:
            pending = [
                pair
                for p in live.buffer
                if p.first + len(p.events) - 1 > cursor
                for pair in p.after(cursor)
            ]
            for seq, event in pending:
                cursor = seq
                yield str(seq), event
            async with live.changed:
                if live.seq == cursor:
                    live.waiting += 1
                    try:
                        await live.changed.wait()
                    finally:
                        live.waiting -= 1

    async def close(self) -> None:
        self._live.clear()
