"""Events per hour, path and numbered user, kept current by the DuckDB writer, for
``/breakdown`` by ``path``.

A breakdown's counts add up across hours, but its distinct users per value do not: by path
they need every (path, user) pair of the period, ~1M for 7 days at 10M events, which the
events give only by decoding each event's path and user id. ``dim_hourly`` holds those pairs
per hour, the user as its **number** (``users.py``), so a reader counts them as bitmaps:

``dim_hourly`` holds, per project x UTC hour (of the event's ``timestamp``) x event name
(NULL: all names, a ``GROUPING SETS`` row, so that a breakdown of every event reads one row
per pair and hour instead of one per event name) x ``path`` x raw user's ``num`` (NULL for
events with no id): the number of events, for exactly the events with a path (not NULL, not
``''``) whose ``received_at`` is before its watermark (``rollup_state`` row ``dim_hourly``).
Rows are deltas: a key may have several rows, readers sum them. Each step's rows go in
sorted by (hour, name, path, num), so that a reader's bitmaps are filled one path at a time
(the same bits, ~1.6x faster than in the order the aggregate emits them).

The writer fills it where it fills ``user_hourly``, with the users' numbers staged there
(``users.fill``, ``users.count_late``): in the transaction that moves the hourly rollup's
watermark, in the commit of late events, in a bulk load's transaction; and
``rollup.catch_up_summaries`` builds it at start-up for the events counted before it
existed, or when its definition (``DEFINITION``, hashed into ``summary_definitions``) is
not the one that built the stored rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb

from agentlytics.model.event import Event
from agentlytics.storage.duckdb.lists import events_source

TABLE = "dim_hourly"
#: its watermark's row in ``rollup_state``
STATE = TABLE
#: the events columns it keeps (a breakdown by one of them reads it)
COLUMNS = ("path",)
_EPOCH = datetime(1970, 1, 1)
#: the aggregate's text, whose hash names the stored rows' definition
DEFINITION = (
    f"INSERT INTO {TABLE}\n"
    "SELECT e.project_id, date_trunc('hour', e.timestamp) AS hour, e.name, e.path, d.num, "
    "count(*) AS events\n"
    "FROM (SELECT project_id, timestamp, name, path, coalesce(user_id, anonymous_id) AS uid "
    "FROM {source}\n"
    "  WHERE ({where}) AND path IS NOT NULL AND path <> '') AS e\n"
    "LEFT JOIN _user_nums d ON d.project_id = e.project_id AND d.uid = e.uid\n"
    "GROUP BY GROUPING SETS ((e.project_id, hour, e.name, e.path, d.num), "
    "(e.project_id, hour, e.path, d.num))\n"
    "ORDER BY hour, e.name NULLS FIRST, e.path, d.num"
)


def definition_hash() -> str:
    return hashlib.sha256(DEFINITION.encode()).hexdigest()[:16]


def aggregate_sql(source: str, where: str) -> str:
    """``INSERT`` the rows of the events of ``source`` matching ``where``, their users'
    numbers from ``_user_nums`` (staged by ``users.fill``)."""
    return DEFINITION.format(source=source, where=where)


def late_statement(events: Sequence[Event]) -> tuple[str, list[Any]]:
    """The ``aggregate_sql`` statement and its parameters for events passed as lists (late
    events: their users staged by ``users.count_late``)."""
    source, columns = events_source(
        events, ["project_id", "timestamp", "name", "path", "user_id", "anonymous_id"]
    )
    return aggregate_sql(source, "true"), columns


def stale(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the stored rows were built by another definition (or none yet)."""
    rows = con.execute("SELECT hash FROM summary_definitions WHERE name = ?", [TABLE]).fetchall()
    return rows != [(definition_hash(),)]


def reset(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the stored rows and record this definition: the catch-up rebuilds them all."""
    con.execute("BEGIN")
    con.execute(f"DELETE FROM {TABLE}")
    con.execute("UPDATE rollup_state SET watermark = ? WHERE name = ?", [_EPOCH, STATE])
    con.execute(
        "INSERT OR REPLACE INTO summary_definitions VALUES (?, ?)", [TABLE, definition_hash()]
    )
    con.execute("COMMIT")
