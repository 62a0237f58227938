"""The journal's frames: JSON frames inserted by DuckDB store what the rows hold, value for
value, and frames of earlier releases (msgpack) are still read at start-up."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pytest
from msgspec.structs import astuple

from agentlytics.model.event import EVENT_COLUMNS, BotHit, Event
from agentlytics.storage.duckdb import frames
from agentlytics.storage.duckdb.schema import migrate
from agentlytics.storage.duckdb.store import INSERT_ROWS, DuckDBEventStore

NOW = int(time.time() * 1000)
#: text a JSON encoder must escape, or that is not ASCII
ODD_TEXT = [
    'quote " and backslash \\ and slash /',
    "new\nline, tab\t, nul \x00, escape \x1b, del \x7f",
    "é, 😀, 中文, \u2028 and \u2029, a combining e\u0301",
    "",
    "x" * 5000,
]


def odd_events(project: str, count: int) -> list[Event]:
    """Events whose values cover each column's kinds: odd text, no value, numbers."""
    events = []
    for i in range(count):
        text = ODD_TEXT[i % len(ODD_TEXT)]
        events.append(
            Event(
                project_id=project,
                event_id=f"e-{i}-{text[:10]}",
                name=text[:200] or "empty",
                timestamp=NOW - i * 1_000 - (i % 7),
                received_at=NOW + (i % 3),
                user_id=text if i % 2 else None,
                anonymous_id=None if i % 2 else f"v-{i}",
                url=f"https://example.com/{i}?q={text[:20]}",
                title=text,
                language=None,
                latency_ms=[None, 0.1, 12.0, 1e16, -3.5, 123456789.125][i % 6],
                success=[None, True, False][i % 3],
                source="mcp" if i % 4 == 0 else "browser",
                properties=msgspec.json.encode({"t": text, "n": i, "f": 0.1 * i}).decode(),
            )
        )
    return events


def stored(con: Any, table: str) -> list[tuple[Any, ...]]:
    return con.execute(  # type: ignore[no-any-return]
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM {table} ORDER BY event_id"
    ).fetchall()


def test_the_frames_insert_stores_what_the_rows_hold() -> None:
    """``frames.insert`` from JSON frames against the same rows inserted as an Arrow table
    (its path without frames), each into the real schema: every column, every row, equal;
    frames that hold other rows than those given are refused."""
    rows = [astuple(e) for e in odd_events("p1", 600)]
    encoded = [frames.encode(rows[at : at + 97], []) for at in range(0, len(rows), 97)]
    stores = []
    for held in (encoded, []):
        con = duckdb.connect()
        migrate(con)
        frames.insert(con, rows, held)
        stores.append(stored(con, "events"))
    from_frames, from_arrow = stores
    assert len(from_frames) == 600
    assert from_frames == from_arrow
    assert {r[EVENT_COLUMNS.index("title")] for r in from_frames} == set(ODD_TEXT)
    with pytest.raises(RuntimeError, match="held 503 events, not 600"):
        frames.insert(con, rows, encoded[1:])


def test_a_frame_decodes_to_its_rows_and_bot_hits() -> None:
    rows = [astuple(e) for e in odd_events("p1", 10)]
    bots = [BotHit(project_id="p1", timestamp=NOW, category="ai_agent", actor="GPTBot", name="x")]
    assert frames.decode(frames.encode(rows, bots)) == (rows, bots)


def test_frames_of_earlier_releases_are_read() -> None:
    """msgpack frames (before JSON): rows of kind 2, and before them ``Event`` maps."""
    events = odd_events("p1", 5)
    rows = [astuple(e) for e in events]
    bots = [BotHit(project_id="p1", timestamp=NOW, category="ai_agent", actor="GPTBot", name="x")]
    of_rows = msgspec.msgpack.encode((frames.ROWS_FRAME, rows, bots))
    of_events = msgspec.msgpack.encode((events, bots))
    assert frames.decode(of_rows) == (rows, bots)
    assert frames.decode(of_events) == (rows, bots)


def test_an_apply_through_the_frames_stores_every_event(tmp_path: Path) -> None:
    """The store's journal and apply end to end: more than ``INSERT_ROWS`` events pending,
    so that a read applies them through the frames; what a query reads back is what was
    appended, and a restart (recovery reads the same frames) adds nothing."""
    path = str(tmp_path / "events.duckdb")
    events = odd_events("p1", 3 * INSERT_ROWS)
    store = DuckDBEventStore(path, apply_ms=60_000)  # applied by the read, not by time
    try:
        for at in range(0, len(events), 50):
            assert all(asyncio.run(store.append(events[at : at + 50])))
        read = store.query(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events ORDER BY event_id").rows
    finally:
        store.close()
    expected = sorted((astuple(e) for e in events), key=lambda r: r[1])
    assert [_as_row(r) for r in read] == expected

    store = DuckDBEventStore(path)
    try:
        [(count,)] = store.query("SELECT count(*) FROM events").rows
    finally:
        store.close()
    assert count == len(events)


def _as_row(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """A stored row as the store's rows hold it (the two times as unix ms)."""
    out = list(values)
    for i in (frames.TIMESTAMP, frames.RECEIVED_AT):
        out[i] = round((out[i] - frames._EPOCH).total_seconds() * 1000)
    return tuple(out)


def test_what_a_failed_apply_took_goes_back_before_what_came_since() -> None:
    """``Pending``: an apply takes everything; if it fails, its rows, bot hits and frames go
    back in front of the groups journalled meanwhile, so the frames stay in the rows' order
    (``frames.insert`` checks their count) and the journal's order."""
    rows = [astuple(e) for e in odd_events("p1", 6)]
    bot = BotHit(project_id="p1", timestamp=NOW, category="ai_agent", actor="GPTBot", name="x")
    pending = frames.Pending()
    assert not pending
    pending.add([], [bot], b"f0")  # bot hits alone are pending too
    assert pending
    pending.add(rows[:3], [], b"f1")
    taken = pending.take()
    assert not pending and taken.frames == [b"f0", b"f1"]
    pending.add(rows[3:], [], b"f2")
    pending.put_back(taken)
    assert pending.rows == rows and pending.bots == [bot]
    assert pending.frames == [b"f0", b"f1", b"f2"]
    assert pending.since >= taken.since
