"""The rows the DuckDB store journals and applies, and their journal frames.

Events travel as rows: tuples of the event's values in ``EVENT_COLUMNS`` order, times as
unix ms. A journal frame is JSON: ``{"rows": [[...], ...], "bots": [{...}, ...]}``, the
event rows as arrays. JSON rather than msgpack (~0.2 µs more per event to encode) because
DuckDB reads it: an apply inserts the frames' rows with one statement (``INSERT_SQL``), which
parses them without the GIL, where making an Arrow table of the rows held it for ~1.2 µs per
event (docs/performance.md, "Eighth round" under Ingest).

Frames of before are still read at start-up, told apart by their first byte: msgpack of
(``ROWS_FRAME``, event rows, bot hits), and before that a msgpack pair of ``Event`` maps and
bot hits.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
import msgspec
import pyarrow as pa
from msgspec.structs import astuple

from agentlytics.model.event import EVENT_COLUMNS, BotHit, Event
from agentlytics.storage.arrow import rows_table

ROWS_FRAME = 2  # the msgpack frames' kind (before JSON)
Row = tuple[Any, ...]
TIMESTAMP, RECEIVED_AT = EVENT_COLUMNS.index("timestamp"), EVENT_COLUMNS.index("received_at")


class _Frame(msgspec.Struct):
    rows: list[tuple[Any, ...]]
    bots: list[BotHit]


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(_Frame).decode
_decode_rows = msgspec.msgpack.Decoder(tuple[int, list[tuple[Any, ...]], list[BotHit]]).decode
_decode_events = msgspec.msgpack.Decoder(tuple[list[Event], list[BotHit]]).decode
_JSON = ord("{")
_TEXT = pa.large_string()  # 64-bit offsets: a frame may be up to the journal's MAX_FRAME
_OFFSETS = struct.Struct("<qq")
_PAIR = 0x92  # a msgpack array of two: a frame of ``Event``s


def _column(i: int, column: str) -> str:
    """A row's value as its column (``from_json`` reads each value as text: a number's
    digits, ``true`` or ``false``)."""
    if column in ("timestamp", "received_at"):
        return f"epoch_ms(r[{i}]::BIGINT)"
    if column == "latency_ms":
        return f"r[{i}]::DOUBLE"
    if column == "success":
        return f"r[{i}]::BOOLEAN"
    return f"r[{i}]"


#: the rows of the frames in ``_frames`` (one frame per row of its column ``f``) into the
#: events table; it answers how many it inserted
INSERT_SQL = (
    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
    f"SELECT {', '.join(_column(i, c) for i, c in enumerate(EVENT_COLUMNS, 1))} "
    """FROM (SELECT unnest(from_json(f, '{"rows": [["VARCHAR"]]}').rows) AS r FROM _frames)"""
)
_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)


def as_arrow(frames: Sequence[bytes]) -> pa.ChunkedArray:
    """Frames as an Arrow column of text for ``INSERT_SQL``, without a copy: each frame's
    bytes are the data buffer of a one-element chunk (copied into one buffer, the ~7 MB of
    an apply held the GIL for ~6% of the server's time under load). JSON from msgspec is
    UTF-8, so the column is text without a check."""
    return pa.chunked_array(
        [
            pa.Array.from_buffers(
                _TEXT, 1, [None, pa.py_buffer(_OFFSETS.pack(0, len(f))), pa.py_buffer(f)]
            )
            for f in frames
        ],
        _TEXT,
    )


def insert(con: duckdb.DuckDBPyConnection, rows: list[Row], held: Sequence[bytes]) -> None:
    """Many event rows into the events table in one statement (in the caller's transaction).

    From ``held``, the journal frames that hold exactly ``rows`` in order, DuckDB parses the
    frames' JSON (``INSERT_SQL``) without the GIL; it raises if they held other than those
    rows (the caller's transaction then rolls back). Without frames, the rows go in as one
    Arrow table, whose making holds the GIL for ~1.2 µs per event. Either way the appender
    is slower: its conversion and flush hold the GIL throughout."""
    if not held:
        con.register("_applied", rows_table(rows))
        try:
            con.execute("INSERT INTO events SELECT * FROM _applied")
        finally:
            con.unregister("_applied")
        return
    con.register("_frames", pa.table({"f": as_arrow(held)}))
    try:
        [(inserted,)] = con.execute(INSERT_SQL).fetchall()
    finally:
        con.unregister("_frames")
    if inserted != len(rows):
        raise RuntimeError(f"the journal frames held {inserted} events, not {len(rows)}")


def encode(rows: Sequence[Row], bots: Sequence[BotHit]) -> bytes:
    return _encode({"rows": rows, "bots": bots})


def decode(payload: bytes) -> tuple[list[Row], list[BotHit]]:
    if payload[0] == _JSON:
        frame = _decode(payload)
        return frame.rows, frame.bots
    if payload[0] == _PAIR:
        events, bots = _decode_events(payload)
        return [astuple(e) for e in events], bots
    _kind, rows, bots = _decode_rows(payload)
    return rows, bots


def appender_rows(events: Sequence[Row]) -> list[list[Any]]:
    """Event rows as appender rows: the two ms timestamps as naive UTC datetimes (a group's
    events share a few distinct times, so each is converted once)."""
    times: dict[int, datetime] = {}
    rows = []
    for event in events:
        row = list(event)
        for i in (TIMESTAMP, RECEIVED_AT):
            ms = row[i]
            at = times.get(ms)
            if at is None:
                at = times[ms] = _EPOCH + _MS * ms
            row[i] = at
        rows.append(row)
    return rows


def bot_row(bot: BotHit) -> tuple[Any, ...]:
    return (bot.project_id, _EPOCH + _MS * bot.timestamp, bot.category, bot.actor, bot.name)


@dataclass(slots=True)
class Pending:
    """What the journal holds that DuckDB does not yet: event rows and bot hits, the frames
    that hold them (in the same order: what an apply inserts), and since when the oldest
    has waited."""

    rows: list[Row] = field(default_factory=list)
    bots: list[BotHit] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)
    since: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.rows or self.bots)

    def add(self, rows: list[Row], bots: list[BotHit], frame: bytes) -> None:
        """A group's rows and bot hits, journalled as ``frame``."""
        if not self:
            self.since = time.monotonic()
        self.rows += rows
        self.bots += bots
        self.frames.append(frame)

    def take(self) -> Pending:
        """All of it, leaving this empty."""
        taken = Pending(self.rows, self.bots, self.frames, self.since)
        self.rows, self.bots, self.frames = [], [], []
        return taken

    def put_back(self, earlier: Pending) -> None:
        """What an apply that failed took, before what has come since; it waits anew."""
        self.rows = earlier.rows + self.rows
        self.bots = earlier.bots + self.bots
        self.frames = earlier.frames + self.frames
        self.since = time.monotonic()
