"""Exact hourly event counts, kept current by the DuckDB writer.

``rollup_hourly`` holds, per project x UTC hour (of the event's ``timestamp``) x event name x
dimension (one of ``DIMENSIONS``, or ``''`` for none) x value: the number of events and of
failed MCP calls, for exactly the events whose ``received_at`` is before the watermark in
``rollup_state``. Rows are deltas: a key may have several rows, readers sum them.

* The writer advances the watermark by whole hours (a day at a time while catching up): one
  ``INSERT ... SELECT`` over the events received in that span, in the transaction that moves
  the watermark, so a crash leaves both or neither.
* An event committed with ``received_at`` below the watermark (a request that straddled the
  step, a bulk load into the past) is counted in the commit that stores it.
* A reader adds (rollup rows of whole hours in its range) + (events of those hours received
  at or after the watermark) + (events of the partial hours at the edges): every event once,
  read in one snapshot (``query/build.py``).

Distinct users are not here: they do not add up across hours (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb

from agentlytics.model.event import MCP_CALL, Event

#: the events columns counted one by one (their values are the rollup's ``value``)
DIMENSIONS: tuple[str, ...] = (
    "path",
    "referrer_host",
    "country",
    "device",
    "browser",
    "os",
    "host",
    "source",
    "environment",
    "language",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "primitive_name",
    "primitive_type",
    "client",
)
STATE = "rollup_hourly"
#: events are counted once their ``received_at`` is at least this old: a request still in
#: flight when the watermark moves lands as a late event, which is correct but slower
LAG = timedelta(minutes=2)
_HOUR = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1)
_FAILED = f"name = '{MCP_CALL}' AND success = false"


def aggregate_sql(source: str, where: str) -> str:
    """``INSERT`` the counts of the rows of ``source`` matching ``where``."""
    parts = [
        "SELECT project_id, date_trunc('hour', timestamp) AS hour, name, "
        f"'{dim}' AS dim, {dim if dim else 'NULL'}::VARCHAR AS value, "
        f"count(*) AS events, count(*) FILTER (WHERE {_FAILED}) AS failures\n"
        f"FROM {source} WHERE {where}\n"
        f"GROUP BY project_id, hour, name{', ' + dim if dim else ''}"
        for dim in ("", *DIMENSIONS)
    ]
    return "INSERT INTO rollup_hourly\n" + "\nUNION ALL\n".join(parts)


def rows_for(events: Sequence[Event]) -> list[tuple[Any, ...]]:
    """The rollup rows of some events, as ``aggregate_sql`` would count them."""
    counts: dict[tuple[Any, ...], list[int]] = {}
    for e in events:
        hour = _EPOCH + timedelta(hours=e.timestamp // 3_600_000)
        failed = int(e.name == MCP_CALL and e.success is False)
        for dim in ("", *DIMENSIONS):
            key = (e.project_id, hour, e.name, dim, getattr(e, dim) if dim else None)
            slot = counts.setdefault(key, [0, 0])
            slot[0] += 1
            slot[1] += failed
    return [(*key, n, failures) for key, (n, failures) in counts.items()]


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def watermark(con: duckdb.DuckDBPyConnection) -> datetime:
    [(mark,)] = con.execute("SELECT watermark FROM rollup_state WHERE name = ?", [STATE]).fetchall()
    return mark  # type: ignore[no-any-return]


def advance(con: duckdb.DuckDBPyConnection, until: datetime, current: datetime) -> datetime:
    """Count the events received in one step after ``current`` (naive UTC, an hour boundary)
    and move the watermark past them, never beyond ``until``; returns the new watermark.

    Stretches with nothing received are skipped in the same step.
    """
    limit = floor_hour(until)
    if current >= limit:
        return current
    [(first,)] = con.execute(
        "SELECT min(received_at) FROM events WHERE received_at >= ?", [current]
    ).fetchall()
    low = current if first is None else max(current, floor_hour(first))
    step = timedelta(days=1) if limit - low > timedelta(days=1) else _HOUR
    high = limit if first is None or first >= limit else min(low + step, limit)
    con.execute("BEGIN")
    try:
        if first is not None and first < high:
            con.execute(
                aggregate_sql("events", "received_at >= ? AND received_at < ?"),
                [current, high] * (len(DIMENSIONS) + 1),
            )
        con.execute("UPDATE rollup_state SET watermark = ? WHERE name = ?", [high, STATE])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return high
