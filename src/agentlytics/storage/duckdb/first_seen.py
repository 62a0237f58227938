"""Each user's first event, kept current by the DuckDB writer, for ``GET /retention``.

``user_first`` holds one row per project x raw user id (``coalesce(user_id, anonymous_id)``,
resolved through the identity map when read; NULL, once per project, for events without
one): the time of its first event, over exactly the events whose ``received_at`` is before
its watermark (``rollup_state`` row ``user_first``). Unlike the other summaries it is not
deltas: one row per key, so that retention finds every user's first time without
aggregating (an earlier event found later replaces the row's time).

* The writer merges in (``merge``) the events received in the transaction that moves the
  hourly rollup's watermark (``rollup.advance``), late events in the commit that stores
  them (``rollup.count_late``) and bulk loads in their transaction (``rollup.count_bulk``);
  ``rollup.catch_up_summaries`` builds it at start-up for events counted before it existed.
* When retention deletes the days before a cutoff, a user whose first event went with them
  gets the first of the days kept, from ``activity_daily`` (which holds the same events),
  in the same transaction (``expire``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb

from agentlytics.model.event import Event

TABLE = "user_first"
#: its watermark's row in ``rollup_state``
STATE = TABLE
_EPOCH = datetime(1970, 1, 1)


def merge(con: duckdb.DuckDBPyConnection, source: str, params: Sequence[Any]) -> None:
    """Merge in the first times of ``source``, a query of (project_id, uid, first_ts) with
    one row per (project_id, uid): earlier times replace later ones, new users are added.
    (Two statements rather than ``MERGE``, which DuckDB has only from 1.4.)"""
    con.execute(
        f"UPDATE {TABLE} f SET first_ts = n.first_ts FROM ({source}) n\n"
        "WHERE f.project_id = n.project_id AND f.uid IS NOT DISTINCT FROM n.uid\n"
        "  AND n.first_ts < f.first_ts",
        list(params),
    )
    con.execute(
        f"INSERT INTO {TABLE} SELECT n.project_id, n.uid, n.first_ts FROM ({source}) n\n"
        f"WHERE NOT EXISTS (SELECT 1 FROM {TABLE} f\n"
        "  WHERE f.project_id = n.project_id AND f.uid IS NOT DISTINCT FROM n.uid)",
        list(params),
    )


def events_sql(source: str, where: str) -> str:
    """The first times of the rows of ``source`` matching ``where``, for ``merge``."""
    return (
        "SELECT project_id, coalesce(user_id, anonymous_id) AS uid, min(timestamp) AS first_ts\n"
        f"FROM {source} WHERE {where}\n"
        "GROUP BY project_id, uid"
    )


def advance(con: duckdb.DuckDBPyConnection, low: datetime, high: datetime) -> None:
    """Inside the rollup's transaction that moves its watermark from ``low`` to ``high``:
    the first times of the events received in between, and the same watermark."""
    where = "received_at >= ? AND received_at < ?"
    merge(con, events_sql("events", where), [low, high])
    con.execute("UPDATE rollup_state SET watermark = ? WHERE name = ?", [high, STATE])


def bulk(con: duckdb.DuckDBPyConnection, source: str, mark: datetime) -> None:
    """Inside a bulk load's transaction: the first times of the loaded rows received before
    the watermark ``mark`` (the writer never reads them again)."""
    merge(con, events_sql(source, "received_at < ?"), [mark])


def count_late(con: duckdb.DuckDBPyConnection, events: Sequence[Event]) -> None:
    """Inside the commit that stores ``events`` (received before the watermark): their
    first times."""
    firsts: dict[tuple[str, str | None], int] = {}
    for e in events:
        key = (e.project_id, e.user_id if e.user_id is not None else e.anonymous_id)
        firsts[key] = min(firsts.get(key, e.timestamp), e.timestamp)
    if not firsts:
        return
    source = (
        "SELECT unnest(?::VARCHAR[]) AS project_id, unnest(?::VARCHAR[]) AS uid, "
        "unnest(?::TIMESTAMP[]) AS first_ts"
    )
    merge(
        con,
        source,
        [
            [project for project, _ in firsts],
            [uid for _, uid in firsts],
            [_EPOCH + timedelta(milliseconds=ms) for ms in firsts.values()],
        ],
    )


def expire(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> None:
    """Inside the transaction that deleted the events and ``activity_daily``'s days before
    ``cutoff`` (a UTC midnight): the users first seen before it get their first time in
    the days kept (those with none left go)."""
    con.execute(
        f"INSERT INTO {TABLE}\n"
        "SELECT a.project_id, a.uid, min(a.first_ts) FROM activity_daily a\n"
        f"JOIN (SELECT project_id, uid FROM {TABLE} WHERE first_ts < ?) g\n"
        "  ON g.project_id = a.project_id AND g.uid IS NOT DISTINCT FROM a.uid\n"
        "GROUP BY a.project_id, a.uid",
        [cutoff],
    )
    con.execute(f"DELETE FROM {TABLE} WHERE first_ts < ?", [cutoff])
