"""Per-user daily activity, kept current by the DuckDB writer, for ``GET /retention``.

``activity_daily`` holds, per project x UTC day (of the event's ``timestamp``) x raw user id
(``coalesce(user_id, anonymous_id)``, resolved through the identity map when read): the
time of the first and of the last event, for exactly the events whose ``received_at`` is
before its watermark (``rollup_state`` row ``activity_daily``). Rows are deltas: a key may
have several rows, readers take the min / max.

* The writer fills it in the transaction that moves the hourly rollup's watermark
  (``rollup.advance``) and for late events in the commit that stores them, as the rollup;
  ``rollup.catch_up_summaries`` builds it at start-up for events counted before the table
  existed, so its watermark equals the rollup's.
* Retention reads it for whole UTC days and the events for the rest of its period and for
  what was received since the watermark (``query/retention.py``): about one row per user
  and active day instead of one per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from agentlytics.model.event import Event

TABLE = "activity_daily"
#: its watermark's row in ``rollup_state``
STATE = TABLE
_EPOCH = datetime(1970, 1, 1)


def aggregate_sql(source: str, where: str) -> str:
    """``INSERT`` the activity of the rows of ``source`` matching ``where``."""
    return (
        f"INSERT INTO {TABLE}\n"
        "SELECT project_id, CAST(timestamp AS DATE) AS day, "
        "coalesce(user_id, anonymous_id) AS uid, min(timestamp), max(timestamp)\n"
        f"FROM {source} WHERE {where}\n"
        "GROUP BY project_id, day, uid"
    )


def rows_for(events: Sequence[Event]) -> list[tuple[Any, ...]]:
    """The activity rows of some events, as ``aggregate_sql`` would build them."""
    spans: dict[tuple[str, date, str | None], list[datetime]] = {}
    for e in events:
        at = _EPOCH + timedelta(milliseconds=e.timestamp)
        uid = e.user_id if e.user_id is not None else e.anonymous_id
        key = (e.project_id, at.date(), uid)
        span = spans.get(key)
        if span is None:
            spans[key] = [at, at]
        else:
            span[0], span[1] = min(span[0], at), max(span[1], at)
    return [(*key, first, last) for key, (first, last) in spans.items()]


def advance(con: duckdb.DuckDBPyConnection, low: datetime, high: datetime) -> None:
    """Inside the rollup's transaction that moves its watermark from ``low`` to ``high``:
    the activity of the events received in between, and the same watermark."""
    con.execute(aggregate_sql("events", "received_at >= ? AND received_at < ?"), [low, high])
    con.execute("UPDATE rollup_state SET watermark = ? WHERE name = ?", [high, STATE])


def bulk(con: duckdb.DuckDBPyConnection, source: str, mark: datetime) -> None:
    """Inside a bulk load's transaction: the activity of the loaded rows received before
    the watermark ``mark`` (the writer never reads them again)."""
    con.execute(aggregate_sql(source, "received_at < ?"), [mark])
