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

Distinct users are not here: they do not add up across hours. ``user_hourly``
(``users.py``) keeps the events per hour, event and numbered user instead, behind its own
watermark, filled in the same four places as the other summaries, and ``dim_hourly``
(``dims.py``) the same per path, for breakdowns by it; so are the property keys
per hour and the materialized keys' values (``properties.py``), and ``user_first``
(``first_seen.py``), each user's first event.

``session_hourly`` holds session fragments behind a watermark of its own (``SESSIONS``, equal
to the rollup's once caught up): per project x UTC hour x ``session_id`` x raw user id
(``coalesce(user_id, anonymous_id)``, resolved through the identity map when read), the
first and last event, the events, page views and non-passive events, and the first and last
page view's time and path. Fragments merge by min / max / sum / arg_min / arg_max, so the
sessions of any whole hours are their fragments merged by ``session_id`` (``query/build.py``),
and the raw user ids of those hours are exactly the fragments' ``uid``. The fragments of events
without a ``session_id`` (one per raw user and millisecond) are kept apart, in
``session_loose``: they are few, and readers need every one of them. ``session_totals`` holds,
per project x UTC hour, the count and sums of the ``whole`` fragments (each a session as it
is), recounted from the fragments in every transaction that adds or splits some: session
counts, bounces and durations over a period read a row per hour for most sessions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import duckdb

from agentlytics.model.event import MCP_CALL, PAGE_VIEW, PASSIVE_EVENTS, Event
from agentlytics.storage.duckdb import activity, dims, first_seen, properties, users

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
SESSIONS = "session_hourly"
#: the fragments of events without a session id (a few in a thousand), apart so that reading
#: them does not mean filtering every fragment (and decoding their user ids)
LOOSE = "session_loose"
#: per project x hour, the ``whole`` fragments' count and sums (``TOTALS_SQL``)
TOTALS = "session_totals"
#: events are counted once their ``received_at`` is at least this old: a request still in
#: flight when the watermark moves lands as a late event, which is correct but slower
LAG = timedelta(minutes=2)
log = logging.getLogger(__name__)
_HOUR = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1)
_FAILED = f"name = '{MCP_CALL}' AND success = false"
_PASSIVE = ", ".join(f"'{name}'" for name in sorted(PASSIVE_EVENTS))
_PAGE = f"name = '{PAGE_VIEW}' AND path IS NOT NULL AND path <> ''"


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


def add_sessions(
    con: duckdb.DuckDBPyConnection, source: str, where: str, params: Sequence[Any]
) -> None:
    """Add the session fragments of the rows of ``source`` matching ``where``: insert them,
    mark the sessions now in several rows as split, and recount the hours either touched.

    Events without a ``session_id`` get a fragment per (raw user, millisecond) with a NULL
    ``sid``, kept apart in ``LOOSE``: readers apply the inactivity rule to those rows as they
    would to the events.
    """
    con.execute(session_sql(source, f"session_id IS NOT NULL AND ({where})", SESSIONS), params)
    con.execute(session_sql(source, f"session_id IS NULL AND ({where})", LOOSE), params)
    rows = f"FROM {source} WHERE session_id IS NOT NULL AND ({where})"
    touched = con.execute(
        f"SELECT DISTINCT project_id, date_trunc('hour', timestamp) {rows}", params
    ).fetchall()
    split = mark_split(con, f"SELECT DISTINCT session_id AS sid {rows}", params)
    count_totals(con, {*touched, *split})


def session_sql(source: str, where: str, table: str) -> str:
    """``INSERT`` into ``table`` the session fragments of the rows of ``source`` matching
    ``where``."""
    return (
        f"INSERT INTO {table}\n"
        "SELECT project_id, date_trunc('hour', timestamp) AS hour, session_id, "
        "coalesce(user_id, anonymous_id) AS uid,\n"
        "  min(timestamp), max(timestamp), count(*), "
        f"count(*) FILTER (WHERE name = '{PAGE_VIEW}'),\n"
        f"  count(*) FILTER (WHERE name NOT IN ({_PASSIVE})),\n"
        f"  min(timestamp) FILTER (WHERE {_PAGE}),\n"
        f"  arg_min(path, timestamp) FILTER (WHERE {_PAGE}),\n"
        f"  max(timestamp) FILTER (WHERE {_PAGE}),\n"
        f"  arg_max(path, timestamp) FILTER (WHERE {_PAGE}),\n"
        "  session_id IS NOT NULL AS whole,\n"
        "  CASE WHEN session_id IS NOT NULL THEN hash(session_id) END AS sk\n"
        f"FROM {source} WHERE {where}\n"
        "GROUP BY project_id, hour, session_id, uid, "
        "CASE WHEN session_id IS NULL THEN timestamp END"
    )


#: after new fragments of the sessions ``{sids}`` (a query of (project_id, sid)) went in:
#: those sessions now in several rows are no longer ``whole`` (returns their rows' hours)
MARK_SPLIT = """
UPDATE session_hourly AS t SET whole = false
FROM (
    SELECT project_id, sid FROM session_hourly
    WHERE sid IN (SELECT sid FROM ({sids}) AS n) GROUP BY project_id, sid HAVING count(*) > 1
) AS m
WHERE t.whole AND t.project_id = m.project_id AND t.sid = m.sid
RETURNING t.project_id, t.hour
"""


def mark_split(
    con: duckdb.DuckDBPyConnection, sids: str, params: Sequence[Any]
) -> list[tuple[str, datetime]]:
    """Mark the sessions ``sids`` now in several rows as split; the (project, hour) of the
    rows marked."""
    return con.execute(MARK_SPLIT.format(sids=sids), list(params)).fetchall()


#: ``TOTALS``' rows from the whole fragments, for the hours matching ``{where}``; a session's
#: duration in whole milliseconds, as the readers compute it
TOTALS_SQL = """
INSERT INTO session_totals
SELECT project_id, hour, count(*), count(*) FILTER (WHERE active = 0),
    sum((epoch_us(t1) // 1000) - (epoch_us(t0) // 1000)), sum(events), sum(pageviews)
FROM session_hourly WHERE whole AND {where}
GROUP BY project_id, hour
"""


def count_totals(con: duckdb.DuckDBPyConnection, keys: set[tuple[str, datetime]]) -> None:
    """Recount ``TOTALS`` for the (project, hour) ``keys`` from the fragments."""
    if not keys:
        return
    projects, hours = zip(*sorted(keys), strict=True)
    # the bounds let the scan skip the other hours' row groups
    where = (
        "hour >= ? AND hour <= ? AND (project_id, hour) IN "
        "(SELECT unnest(?::VARCHAR[]), unnest(?::TIMESTAMP[]))"
    )
    params = [min(hours), max(hours), list(projects), list(hours)]
    con.execute(f"DELETE FROM {TOTALS} WHERE {where}", params)
    con.execute(TOTALS_SQL.format(where=where), params)


def finish_appended(con: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
    """After fragments built in Python (``session_rows_for``, ``sk`` NULL) were appended:
    give them DuckDB's hash, mark the sessions they extend as split, and recount the hours
    either touched."""
    con.execute("UPDATE session_hourly SET sk = hash(sid) WHERE sk IS NULL AND sid IS NOT NULL")
    sids = sorted({row[2] for row in rows if row[2] is not None})
    split = mark_split(con, "SELECT unnest(?::VARCHAR[]) AS sid", [sids])
    count_totals(con, {(row[0], row[1]) for row in rows if row[2] is not None} | set(split))


def hash_changed(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this engine hashes session ids differently from the one that built the
    fragments (after an upgrade): then they must be rebuilt."""
    [(changed,)] = con.execute(
        "SELECT count(*) FROM (SELECT sid, sk FROM session_hourly WHERE sid IS NOT NULL "
        "LIMIT 1000) WHERE sk IS DISTINCT FROM hash(sid)"
    ).fetchall()
    return bool(changed)


def session_rows_for(events: Sequence[Event]) -> list[tuple[Any, ...]]:
    """The session fragments of some events, as ``session_sql`` would build them."""
    frags: dict[tuple[Any, ...], list[Any]] = {}
    for e in sorted(events, key=lambda e: e.timestamp):
        at = _EPOCH + timedelta(milliseconds=e.timestamp)
        uid = e.user_id if e.user_id is not None else e.anonymous_id
        key = (e.project_id, floor_hour(at), e.session_id, uid, e.session_id is None and at)
        f = frags.get(key)
        if f is None:
            f = frags[key] = [at, at, 0, 0, 0, None, None, None, None, e.session_id is not None]
            f.append(None)  # sk: hashed by DuckDB once appended
        f[0], f[1] = min(f[0], at), max(f[1], at)
        f[2] += 1
        f[3] += e.name == PAGE_VIEW
        f[4] += e.name not in PASSIVE_EVENTS
        if e.name == PAGE_VIEW and e.path:
            if f[5] is None:  # in time order: the first page view is the entry
                f[5], f[6] = at, e.path
            f[7], f[8] = at, e.path
    return [(*key[:4], *f) for key, f in frags.items()]


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


#: every summary table and the column holding its rows' time (retention deletes by it;
#: ``user_first`` is expired apart, see ``expire``)
SUMMARIES: tuple[tuple[str, str], ...] = (
    (STATE, "hour"),
    (SESSIONS, "hour"),
    (LOOSE, "hour"),
    (TOTALS, "hour"),
    (activity.TABLE, "day"),
    (users.TABLE, "hour"),
    (dims.TABLE, "hour"),
    (properties.KEYS, "hour"),
    (properties.VALUES, "hour"),
)


def expire(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> None:
    """Inside the transaction that deletes the events before ``cutoff`` (a UTC midnight):
    every summary's rows for that time, so that no report mixes kept and deleted days."""
    for table, column in SUMMARIES:
        con.execute(f"DELETE FROM {table} WHERE {column} < ?", [cutoff])
    first_seen.expire(con, cutoff)  # not by time: the users first seen before move on


def count_late(
    con: duckdb.DuckDBPyConnection,
    append: Callable[[str, Sequence[Sequence[Any]]], None],
    late: Sequence[Event],
) -> None:
    """Inside the commit that stores ``late`` (events received before the watermark, which
    the writer will never count on its own): their rows in every summary.
    ``append(table, rows)`` appends rows to a table."""
    append(STATE, rows_for(late))
    append(activity.TABLE, activity.rows_for(late))
    users.count_late(con, late, [dims.late_statement(late)])
    properties.count_late(con, late)
    first_seen.count_late(con, late)
    frags = session_rows_for(late)
    append(SESSIONS, [f for f in frags if f[2] is not None])
    append(LOOSE, [f for f in frags if f[2] is None])
    finish_appended(con, frags)


def count_bulk(con: duckdb.DuckDBPyConnection, source: str, mark: datetime) -> None:
    """Inside a bulk load's transaction: every summary's rows for the loaded rows of
    ``source`` received before the watermark ``mark``."""
    where = "received_at < ?"
    con.execute(aggregate_sql(source, where), [mark] * (len(DIMENSIONS) + 1))
    add_sessions(con, source, where, [mark])
    activity.bulk(con, source, mark)
    users.bulk(con, source, mark, [dims.aggregate_sql])
    properties.bulk(con, source, mark)
    first_seen.bulk(con, source, mark)


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def watermark(con: duckdb.DuckDBPyConnection, name: str = STATE) -> datetime:
    [(mark,)] = con.execute("SELECT watermark FROM rollup_state WHERE name = ?", [name]).fetchall()
    return mark  # type: ignore[no-any-return]


def catch_up_summaries(con: duckdb.DuckDBPyConnection, until: datetime) -> None:
    """Build the session fragments, the user activity, the hourly users, the property
    summaries and the users' first events of every event received before ``until`` (the
    rollup's watermark) that they lack: at start-up, for events stored before a summary
    existed (or, for the session fragments, before the engine's hash changed)."""
    if hash_changed(con):
        log.warning("session ids hash differently now: rebuilding the session fragments")
        con.execute(f"DELETE FROM {SESSIONS}")
        con.execute(f"DELETE FROM {LOOSE}")
        con.execute(f"DELETE FROM {TOTALS}")
        con.execute("UPDATE rollup_state SET watermark = ? WHERE name = ?", [_EPOCH, SESSIONS])

    def sessions(where: str, params: list[Any]) -> None:
        add_sessions(con, "events", where, params)

    def days(where: str, params: list[Any]) -> None:
        con.execute(activity.aggregate_sql("events", where), params)

    def hours(where: str, params: list[Any]) -> None:
        users.fill(con, "events", where, params)

    def paths(where: str, params: list[Any]) -> None:
        users.fill(con, "events", where, params, [dims.aggregate_sql])

    def firsts(where: str, params: list[Any]) -> None:
        first_seen.merge(con, first_seen.events_sql("events", where), params)

    if users.hash_changed(con):
        log.warning("user ids hash differently now: recomputing the users' lookup keys")
        users.rehash(con)
    _catch_up(con, SESSIONS, "session fragments", sessions, until)
    _catch_up(con, activity.STATE, "user activity", days, until)
    _catch_up(con, users.STATE, "hourly users", hours, until)
    if dims.stale(con):
        if con.execute("SELECT 1 FROM events LIMIT 1").fetchall():  # a new data dir: say nothing
            log.warning("building the users per path anew (a new definition)")
        dims.reset(con)
    _catch_up(con, dims.STATE, "users per path", paths, until)
    _catch_up(
        con, properties.STATE, "property keys", partial(properties.build, con, "events"), until
    )
    _catch_up(con, first_seen.STATE, "users' first events", firsts, until)


def _catch_up(
    con: duckdb.DuckDBPyConnection,
    name: str,
    what: str,
    build: Callable[[str, list[Any]], None],
    until: datetime,
    step: timedelta = timedelta(days=7),
) -> None:
    """Move the watermark of summary ``name`` up to ``until``, ``build``-ing the rows of the
    events received in between (``build(where, params)``), a week of ``received_at`` per
    transaction, logging progress."""
    current = watermark(con, name)
    if current >= until:
        return
    [(first,)] = con.execute(
        "SELECT min(received_at) FROM events WHERE received_at >= ? AND received_at < ?",
        [current, until],
    ).fetchall()
    low = current if first is None else max(current, floor_hour(first))
    if first is not None:
        log.warning("building %s for events received %s to %s", what, low, until)
    started = time.monotonic()
    while True:
        high = until if first is None else min(low + step, until)
        con.execute("BEGIN")
        try:
            if first is not None:
                build("received_at >= ? AND received_at < ?", [current, high])
            con.execute("UPDATE rollup_state SET watermark = ? WHERE name = ?", [high, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        if first is not None:
            log.warning("%s: up to %s (%.1f s)", what, high, time.monotonic() - started)
        current = low = high
        if high >= until:
            return


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
            where = "received_at >= ? AND received_at < ?"
            con.execute(aggregate_sql("events", where), [current, high] * (len(DIMENSIONS) + 1))
            add_sessions(con, "events", where, [current, high])
        con.execute(
            "UPDATE rollup_state SET watermark = ? WHERE name IN (?, ?, ?)",
            [high, STATE, SESSIONS, dims.STATE],
        )
        activity.advance(con, current, high)
        users.advance(con, current, high, [dims.aggregate_sql])
        properties.advance(con, current, high)
        first_seen.advance(con, current, high)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return high
