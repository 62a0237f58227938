"""Coordinator for one process: fixed-window counters, slots, and a live ring buffer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Sequence
from itertools import repeat
from typing import Any

from agentlytics.storage.ports import RateDecision

LIVE_WINDOW_MS = 5 * 60 * 1000
LIVE_MAX_EVENTS = 10_000


class _Live:
    def __init__(self) -> None:
        self.seq = 0
        self.buffer: deque[tuple[int, int, dict[str, Any]]] = deque(maxlen=LIVE_MAX_EVENTS)
        self.changed = asyncio.Condition()
        #: subscribers waiting on ``changed`` (publish skips the condition when there are none)
        self.waiting = 0


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
        first = live.seq + 1
        live.seq += len(events)
        # a batch at once (numbered first, first + 1, …), without a Python step per event
        live.buffer.extend(zip(range(first, live.seq + 1), repeat(int(time.time() * 1000)), events))
        if live.waiting:
            async with live.changed:
                live.changed.notify_all()

    async def recent(self, project_id: str, since_ms: int) -> list[dict[str, Any]]:
        live = self._live.get(project_id)
        if live is None:
            return []
        floor = max(since_ms, int(time.time() * 1000) - LIVE_WINDOW_MS)
        return [event for _, at, event in live.buffer if at >= floor]

    async def subscribe(
        self, project_id: str, last_id: str | None = None
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        live = self._channel(project_id)
        cursor = live.seq
        if last_id is not None and last_id.isdigit():
            cursor = min(int(last_id), live.seq)
        while True:
            pending = [(seq, event) for seq, _, event in live.buffer if seq > cursor]
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
