"""Retention on the embedded store: the events and every summary lose the same days."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agentlytics.model.event import BotHit, Event
from agentlytics.storage.arrow import events_table
from agentlytics.storage.duckdb.retention import EXPIRING
from agentlytics.storage.duckdb.store import DuckDBEventStore


def _event(i: int, at: datetime) -> Event:
    ms = int(at.timestamp() * 1000)
    return Event(
        project_id="p1",
        event_id=f"e{i}",
        name="page_view",
        timestamp=ms,
        received_at=ms,
        anonymous_id=f"u{i % 3}",
        # one session over many hours, some of an hour (whole: session_totals), some without
        # an id (session_loose)
        session_id=None if i % 5 == 0 else "long" if i % 5 == 1 else f"s{i}",
        path=f"/p{i % 2}",
        properties='{"plan": "pro"}',
    )


def _counts(store: DuckDBEventStore, cutoff: datetime) -> dict[str, tuple[int, int]]:
    """Per table: rows before and from the cutoff."""
    out = {}
    for table, column in EXPIRING:
        sql = f"SELECT count(*) FILTER (WHERE {column} < ?), count(*) FILTER (WHERE {column} >= ?) FROM {table}"
        [(old, new)] = store.query(sql, [cutoff, cutoff]).rows
        out[table] = (old, new)
    return out


def test_a_restart_with_a_retention_deletes_the_same_days_everywhere(tmp_path: Path) -> None:
    path = str(tmp_path / "events.duckdb")
    now = datetime.now(UTC)
    events = [_event(i, now - timedelta(days=40, hours=i)) for i in range(20)]
    events += [_event(100 + i, now - timedelta(days=10, hours=i)) for i in range(20)]
    store = DuckDBEventStore(path)
    try:
        store.append_table(events_table(events))
        store.materialize("p1", "plan")  # so that its values are kept, then expire too
        store.fill_materialized()
        bots = [
            BotHit(project_id="p1", timestamp=e.timestamp, category="ai_agent", actor="x", name="n")
            for e in events[::5]
        ]
        asyncio.run(store.append([], bots))
        store.advance_rollup(now.replace(tzinfo=None))
        cutoff = (now - timedelta(days=30)).replace(tzinfo=None)
        before = _counts(store, cutoff)
        assert all(old > 0 and new > 0 for old, new in before.values()), before
        [(early,)] = store.query(
            "SELECT count(*) FROM user_first WHERE first_ts < ?", [cutoff]
        ).rows
        assert early == 3
    finally:
        store.close()

    store = DuckDBEventStore(path, retention_days=30)
    try:
        after = _counts(store, cutoff)
        assert all(old == 0 for old, _ in after.values()), after
        assert after == {t: (0, new) for t, (_, new) in before.items()}, "newer rows stay"
        # each user's first event: the first of the days kept
        firsts = "SELECT uid, first_ts FROM user_first ORDER BY uid"
        kept = "SELECT anonymous_id, min(timestamp) FROM events GROUP BY 1 ORDER BY 1"
        assert store.query(firsts).rows == store.query(kept).rows
        assert len(store.query(kept).rows) == 3
        # and what arrives older than the retention is acknowledged but not kept
        store.append_sync([_event(500, now - timedelta(days=45)), _event(501, now)])
        ids = {r[0] for r in store.query("SELECT event_id FROM events").rows}
        assert "e501" in ids and "e500" not in ids
    finally:
        store.close()
