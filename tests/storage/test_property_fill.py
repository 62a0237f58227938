"""A property key materialized over a long past: its past rows are written a few hours of event
time per step between the writer's commits, readers use it only once complete, and every event
is counted once, whatever arrives meanwhile (live events, a bulk load of old ones)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from agentlytics.model.event import Event
from agentlytics.storage.arrow import events_table
from agentlytics.storage.duckdb.store import DuckDBEventStore

VALUES = (
    "SELECT value, sum(events) FROM property_values WHERE key = 'plan' GROUP BY value "
    "ORDER BY value"
)
SCANNED = (
    "SELECT v, count(*) FROM (SELECT json_extract_string(properties, '$.\"plan\"') AS v "
    "FROM events) WHERE v IS NOT NULL GROUP BY v ORDER BY v"
)


def _event(i: int, at: datetime, received: datetime | None = None) -> Event:
    ms = int(at.timestamp() * 1000)
    return Event(
        project_id="p1",
        event_id=f"e{i}",
        name="signup",
        timestamp=ms,
        received_at=int((received or at).timestamp() * 1000),
        anonymous_id=f"u{i % 7}",
        properties='{"plan": "pro"}' if i % 3 else '{"plan": "team", "seats": 2}',
    )


def test_a_key_is_filled_a_day_at_a_time_and_every_event_counted_once(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    past = [_event(i, now - timedelta(days=6, hours=-3 * i)) for i in range(40)]  # 5 days
    store = DuckDBEventStore(str(tmp_path / "events.duckdb"))
    try:
        store.append_table(events_table(past))
        store.advance_rollup(now.replace(tzinfo=None))

        store.materialize("p1", "plan")
        store._call(store._materialize_wanted)
        assert "plan" not in store.materialized.get("p1", ()), "listed, not complete"
        store._call(store._fill_step)
        [(written,)] = store.query("SELECT count(*) FROM property_values").rows
        assert written > 0
        assert "plan" not in store.materialized.get("p1", ()), "a few hours of five days written"

        # meanwhile: live events (counted by the writer as it counts everything new) ...
        store.append_sync([_event(100 + i, now - timedelta(minutes=i)) for i in range(5)])
        # ... and a bulk load of old events, received long before the key was listed
        old = [_event(200 + i, now - timedelta(days=3, minutes=i)) for i in range(6)]
        store.append_table(events_table(old))
        assert "plan" in store.materialized["p1"], "a bulk load finishes the fills first"

        store.advance_rollup((now + timedelta(hours=2)).replace(tzinfo=None))
        assert store.query(VALUES).rows == store.query(SCANNED).rows
        assert store.query(SCANNED).rows == [("pro", 34), ("team", 17)]
    finally:
        store.close()


def test_a_fill_in_progress_goes_on_after_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "events.duckdb")
    now = datetime.now(UTC)
    store = DuckDBEventStore(path)
    try:
        store.append_table(
            events_table([_event(i, now - timedelta(days=6, hours=-3 * i)) for i in range(40)])
        )
        store.advance_rollup(now.replace(tzinfo=None))
        store.materialize("p1", "plan")
        store._call(store._materialize_wanted)
        store._call(store._fill_step)
    finally:
        store.close()

    store = DuckDBEventStore(path)
    try:
        assert "plan" not in store.materialized.get("p1", ())
        store.fill_materialized()
        assert store.materialized["p1"] == {"plan"}
        assert (
            store.query(VALUES).rows
            == store.query(SCANNED).rows
            == [
                ("pro", 26),
                ("team", 14),
            ]
        )
    finally:
        store.close()
