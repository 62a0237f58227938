"""Events per hour, event name and user, kept current by the DuckDB writer, for the distinct
users of ``/stats``, ``/insights``, ``/heatmap`` and ``/query``.

``user_hourly`` holds, per project x UTC hour (of the event's ``timestamp``) x event name x
raw user (``coalesce(user_id, anonymous_id)``): the number of events, for exactly the events
whose ``received_at`` is before its watermark (``rollup_state`` row ``user_hourly``). Rows are
deltas: a key may have several rows, readers sum them.

The user is stored as ``uk``, a 64-bit hash of its id (``key_sql``; NULL for events with no
id), not as the id: a distinct count over integers costs a fraction of one over ~300k
strings, and the table is a third of the size. Readers resolve users through the identity
map by the same hash (``query/users.py``). Answers are therefore exact **up to 64-bit hash
collisions** (two different user ids of one period hashing alike: with 10 million users,
a chance of about 3 in a million of one user too few; docs/performance.md).

* The writer fills it in the transaction that moves the hourly rollup's watermark
  (``rollup.advance``), for late events in the commit that stores them
  (``rollup.count_late``), for bulk loads in their transaction (``rollup.count_bulk``), and
  ``rollup.catch_up_summaries`` builds it at start-up for events counted before it existed.
* ``user_hash`` holds the hash of a probe string as computed when the table was filled; if
  the engine hashes differently (an upgrade), the table is rebuilt at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb

from agentlytics.model.event import Event

TABLE = "user_hourly"
#: its watermark's row in ``rollup_state``
STATE = TABLE
PROBE = "agentlytics user key"
_EPOCH = datetime(1970, 1, 1)


def key_sql(expr: str) -> str:
    """The stored key of a user id expression: its hash, NULL for NULL (DuckDB's ``hash``
    gives NULL a value)."""
    return f"CASE WHEN {expr} IS NOT NULL THEN hash({expr}) END"


def aggregate_sql(source: str, where: str) -> str:
    """``INSERT`` the counts of the rows of ``source`` matching ``where``."""
    return (
        f"INSERT INTO {TABLE}\n"
        "SELECT project_id, date_trunc('hour', timestamp) AS hour, name, "
        f"{key_sql('coalesce(user_id, anonymous_id)')} AS uk, count(*)\n"
        f"FROM {source} WHERE {where}\n"
        "GROUP BY project_id, hour, name, uk"
    )


def count_late(con: duckdb.DuckDBPyConnection, events: Sequence[Event]) -> None:
    """Inside the commit that stores ``events`` (received before the watermark): their rows,
    counted here and hashed by the engine as ``aggregate_sql`` hashes."""
    counts: dict[tuple[str, datetime, str, str | None], int] = {}
    for e in events:
        hour = _EPOCH + timedelta(hours=e.timestamp // 3_600_000)
        uid = e.user_id if e.user_id is not None else e.anonymous_id
        key = (e.project_id, hour, e.name, uid)
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return
    columns: list[list[Any]] = [list(c) for c in zip(*counts, strict=True)]
    con.execute(
        f"INSERT INTO {TABLE}\n"
        f"SELECT p, h, n, {key_sql('u')}, c FROM (SELECT unnest(?::VARCHAR[]) AS p, "
        "unnest(?::TIMESTAMP[]) AS h, unnest(?::VARCHAR[]) AS n, unnest(?::VARCHAR[]) AS u, "
        "unnest(?::BIGINT[]) AS c)",
        [*columns, list(counts.values())],
    )


def advance(con: duckdb.DuckDBPyConnection, low: datetime, high: datetime) -> None:
    """Inside the rollup's transaction that moves its watermark from ``low`` to ``high``:
    the rows of the events received in between, and the same watermark."""
    con.execute(aggregate_sql("events", "received_at >= ? AND received_at < ?"), [low, high])
    con.execute("UPDATE rollup_state SET watermark = ? WHERE name = ?", [high, STATE])


def bulk(con: duckdb.DuckDBPyConnection, source: str, mark: datetime) -> None:
    """Inside a bulk load's transaction: the rows of the loaded events received before the
    watermark ``mark`` (the writer never reads them again)."""
    con.execute(aggregate_sql(source, "received_at < ?"), [mark])


def hash_changed(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this engine hashes user ids differently from the one that filled the table."""
    [(changed,)] = con.execute(
        "SELECT count(*) FROM user_hash WHERE probe IS DISTINCT FROM hash(?)", [PROBE]
    ).fetchall()
    return bool(changed)


def reset(con: duckdb.DuckDBPyConnection) -> None:
    """Empty the table and its watermark, to be rebuilt with this engine's hash."""
    con.execute("BEGIN")
    con.execute(f"DELETE FROM {TABLE}")
    con.execute("UPDATE user_hash SET probe = hash(?)", [PROBE])
    con.execute("UPDATE rollup_state SET watermark = ? WHERE name = ?", [_EPOCH, STATE])
    con.execute("COMMIT")
