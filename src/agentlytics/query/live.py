"""Live data: a snapshot of the last minutes, and a filtered stream of events as they commit.

Both read the Coordinator's live bus, which the ingest pipeline feeds after each commit.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from agentlytics.errors import ValidationError
from agentlytics.model.event import PAGE_VIEW
from agentlytics.storage.ports import Coordinator

HEARTBEAT = object()


@dataclass(frozen=True, slots=True)
class StreamFilter:
    events: frozenset[str] = frozenset()
    match: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, events: str | None, spec: str | None) -> StreamFilter:
        """``events=a,b`` and ``filter=k:v;k2:v2`` (all must hold).

        Raises:
            ValidationError: a filter part without ``key:value``.
        """
        names = frozenset(e.strip() for e in (events or "").split(",") if e.strip())
        match: dict[str, str] = {}
        for part in (spec or "").split(";"):
            if not part.strip():
                continue
            key, sep, value = part.partition(":")
            if not sep or not key.strip():
                raise ValidationError(
                    f"filter part {part!r} must look like key:value (several joined with ';')",
                    code="INVALID_FILTER",
                )
            match[key.strip()] = value.strip()
        return cls(names, match)

    def accepts(self, event: dict[str, Any]) -> bool:
        if self.events and event.get("event") not in self.events:
            return False
        props = event.get("properties") or {}
        for key, value in self.match.items():
            actual = event[key] if key in event else props.get(key)
            if actual is None or str(actual) != value:
                return False
        return True

    def as_json(self) -> dict[str, Any]:
        return {"events": sorted(self.events), "filter": self.match}


async def snapshot(coord: Coordinator, project_id: str, window_s: int) -> dict[str, Any]:
    now = int(time.time() * 1000)
    events = await coord.recent(project_id, now - window_s * 1000)
    visitors = {e.get("user_id") for e in events if e.get("user_id")}
    sessions = {e.get("session_id") for e in events if e.get("session_id")}
    page_visitors: dict[str, set[Any]] = {}
    for e in events:
        if e.get("event") == PAGE_VIEW and e.get("path"):
            page_visitors.setdefault(e["path"], set()).add(e.get("user_id"))
    top_pages = sorted(page_visitors.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:10]
    counts = Counter(e.get("event") for e in events)
    return {
        "window_seconds": window_s,
        "timestamp": now,
        "active_visitors": len(visitors),
        "active_sessions": len(sessions),
        "events_per_minute": round(len(events) / (window_s / 60), 2),
        "top_pages": [{"path": path, "visitors": len(users)} for path, users in top_pages],
        "top_events": [{"event": name, "count": n} for name, n in counts.most_common(10)],
        "recent_events": list(reversed(events[-20:])),
    }


async def stream(
    coord: Coordinator,
    project_id: str,
    flt: StreamFilter,
    *,
    last_id: str | None,
    heartbeat_s: float,
    idle_timeout_s: float,
) -> AsyncIterator[tuple[str, dict[str, Any]] | object]:
    """Matching (id, event) pairs, ``HEARTBEAT`` every ``heartbeat_s`` of silence; ends after
    ``idle_timeout_s`` without a matching event."""
    source = coord.subscribe(project_id, last_id).__aiter__()
    last_match = time.monotonic()
    pending: asyncio.Task[tuple[str, dict[str, Any]]] | None = None
    try:
        while True:
            remaining = idle_timeout_s - (time.monotonic() - last_match)
            if remaining <= 0:
                return
            if pending is None:
                pending = asyncio.ensure_future(source.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=min(heartbeat_s, remaining))
            if not done:
                yield HEARTBEAT
                continue
            item = pending.result()
            pending = None
            if flt.accepts(item[1]):
                last_match = time.monotonic()
                yield item
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.wait({pending})  # let it unwind before closing its generator
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
