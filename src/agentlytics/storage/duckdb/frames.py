"""The rows the DuckDB store journals and applies, and their journal frames.

Events travel as rows: tuples of the event's values in ``EVENT_COLUMNS`` order, times as
unix ms. A journal frame is msgpack of (``ROWS_FRAME``, event rows, bot hits); frames of
before (a msgpack pair of ``Event`` maps and bot hits) are still read at start-up, told
apart by their first byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
from msgspec.structs import astuple

from agentlytics.model.event import EVENT_COLUMNS, BotHit, Event

ROWS_FRAME = 2
Row = tuple[Any, ...]
TIMESTAMP, RECEIVED_AT = EVENT_COLUMNS.index("timestamp"), EVENT_COLUMNS.index("received_at")
_encode = msgspec.msgpack.Encoder().encode
_decode_rows = msgspec.msgpack.Decoder(tuple[int, list[tuple[Any, ...]], list[BotHit]]).decode
_decode_events = msgspec.msgpack.Decoder(tuple[list[Event], list[BotHit]]).decode
_PAIR = 0x92  # a msgpack array of two: a frame of ``Event``s
_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)


def encode(rows: Sequence[Row], bots: Sequence[BotHit]) -> bytes:
    return _encode((ROWS_FRAME, rows, bots))


def decode(payload: bytes) -> tuple[list[Row], list[BotHit]]:
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
