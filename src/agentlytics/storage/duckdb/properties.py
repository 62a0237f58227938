"""Property keys per hour, and the values of a few materialized keys, kept current by the
DuckDB writer, for ``/properties``, ``/properties/received`` and ``/breakdown`` by a key of
the JSON ``properties``.

Reading ``properties`` is what costs: a statement that touches the column decompresses all
of it over its period (~100 ms for 7 days at 10M events, however few rows a filter keeps),
and testing or parsing it costs several times more. So two summaries hold what those reads
need, both for exactly the events whose ``received_at`` is before one watermark
(``rollup_state`` row ``property_hourly``); rows are deltas, readers sum them:

* ``property_hourly``: per project x UTC hour (of the event's ``timestamp``) x event name x
  top-level key, the number of events having the key. Which keys exist, per event name.
* ``property_values``: for the keys listed in ``property_materialized`` (per project), per
  project x hour x event name x key x value (``json_extract_string``, as readers extract it;
  events whose value is NULL are left out) x raw user (``coalesce(user_id, anonymous_id)``,
  resolved through the identity map when read): the number of events. A breakdown by a
  materialized key reads these rows instead of every event's JSON.

A key is materialized the first time a breakdown asks for it (``materialize``, at most
``MAX_MATERIALIZED`` per project). Once listed, the writer counts it like the rest for every
event it counts from then on; the rows of the events counted before (received before the
watermark at listing, its ``mark``) are written by ``fill_step``, a span of event time per
transaction (``FILL_STEP``, adapted to how long a step takes), newest first, between the
writer's commits, so that a key found on every event of a large project does not hold ingest
up for seconds. ``pending_before`` is the event time the key's past rows are still missing
below; NULL once complete, and only then do readers use the key (``materialized``). Both
tables are filled in the four places of the other summaries (``rollup.py``): the step that
moves the watermark, the commit of late events, a bulk load's transaction, and the catch-up
at start-up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb

from agentlytics.model.event import Event
from agentlytics.storage.duckdb.lists import events_source

log = logging.getLogger(__name__)

KEYS = "property_hourly"
VALUES = "property_values"
MATERIALIZED = "property_materialized"
#: the watermark of both tables, in ``rollup_state``
STATE = KEYS
#: materialized keys per project: each costs a table row per (hour, event, value, user)
MAX_MATERIALIZED = 8
#: the event time a ``fill_step`` covers at first; ``Materializer`` doubles it after a step
#: shorter than ``FILL_STEP_MS[0]`` and halves it after one longer than ``FILL_STEP_MS[1]``
#: (a step has a fixed cost of a few tens of ms: a sparse past goes in fewer of them)
FILL_STEP = timedelta(hours=4)
FILL_STEP_MS = (40.0, 150.0)
_FILL_SPANS = (timedelta(minutes=15), timedelta(days=1))
_EPOCH = datetime(1970, 1, 1)
#: a key's JSON path, as ``Dialect.prop`` spells it for a literal key
_PATH = "'$.\"' || m.key || '\"'"


def keys_sql(source: str, where: str) -> str:
    """``INSERT`` the keys of the rows of ``source`` matching ``where`` (text that is not a
    JSON object has none)."""
    return (
        f"INSERT INTO {KEYS}\n"
        "SELECT project_id, date_trunc('hour', timestamp) AS hour, name, key, count(*)\n"
        "FROM (SELECT project_id, timestamp, name, "
        "unnest(try(json_keys(properties))) AS key\n"
        f"  FROM {source} WHERE {where})\n"
        "GROUP BY project_id, hour, name, key"
    )


def values_sql(source: str, where: str, keys: str = MATERIALIZED) -> str:
    """``INSERT`` the values of the materialized keys (``keys``: a relation of
    (project_id, key)) in the rows of ``source`` matching ``where``; only the JSON that may
    hold a key is parsed (``Dialect.may_have_key``)."""
    return (
        f"INSERT INTO {VALUES}\n"
        "SELECT e.project_id, date_trunc('hour', e.timestamp) AS hour, e.name, m.key, "
        f"json_extract_string(e.properties, {_PATH}) AS value, "
        "coalesce(e.user_id, e.anonymous_id) AS uid, count(*)\n"
        f"FROM {source} e JOIN {keys} m ON m.project_id = e.project_id\n"
        f"WHERE {where} AND contains(e.properties, '\"' || m.key || '\"')\n"
        "GROUP BY ALL HAVING value IS NOT NULL"
    )


def build(con: duckdb.DuckDBPyConnection, source: str, where: str, params: list[Any]) -> None:
    """Both tables' rows for the rows of ``source`` matching ``where``."""
    con.execute(keys_sql(source, where), params)
    con.execute(values_sql(source, where), params)


def advance(con: duckdb.DuckDBPyConnection, low: datetime, high: datetime) -> None:
    """Inside the rollup's transaction that moves its watermark from ``low`` to ``high``:
    the rows of the events received in between, and the same watermark."""
    build(con, "events", "received_at >= ? AND received_at < ?", [low, high])
    con.execute("UPDATE rollup_state SET watermark = ? WHERE name = ?", [high, STATE])


def bulk(con: duckdb.DuckDBPyConnection, source: str, mark: datetime) -> None:
    """Inside a bulk load's transaction: the rows of the loaded events received before the
    watermark ``mark``."""
    build(con, source, "received_at < ?", [mark])


def count_late(con: duckdb.DuckDBPyConnection, events: Sequence[Event]) -> None:
    """Inside the commit that stores ``events`` (received before the watermark): their rows,
    by the same statements over the events passed as lists (so that keys and values are
    extracted by the engine exactly as for the others)."""
    if not events:
        return
    source, columns = events_source(
        events, ["project_id", "timestamp", "name", "user_id", "anonymous_id", "properties"]
    )
    build(con, source, "true", columns)


def materialized(con: duckdb.DuckDBPyConnection) -> dict[str, frozenset[str]]:
    """The materialized keys whose past rows are complete, per project."""
    found: dict[str, set[str]] = {}
    rows = con.execute(
        f"SELECT project_id, key FROM {MATERIALIZED} WHERE pending_before IS NULL"
    ).fetchall()
    for project_id, key in rows:
        found.setdefault(project_id, set()).add(key)
    return {p: frozenset(keys) for p, keys in found.items()}


def filling(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """The (project, key) pairs listed whose past rows are still being written."""
    rows = con.execute(
        f"SELECT project_id, key FROM {MATERIALIZED} WHERE pending_before IS NOT NULL"
    ).fetchall()
    return {(p, k) for p, k in rows}


#: the project's events of the event names that have had the key (the summary of keys covers
#: the same events), received before the key's mark, in a span of event time: only their
#: JSON is tested for the key
_PAST = (
    f"e.project_id = ? AND e.name IN (SELECT DISTINCT name FROM {KEYS} "
    "WHERE project_id = ? AND key = ?) AND e.received_at < ? "
    "AND e.timestamp >= ? AND e.timestamp < ?"
)


def materialize(con: duckdb.DuckDBPyConnection, project_id: str, key: str) -> bool:
    """List ``key`` (a checked property key) as materialized for the project; its past rows
    are left to ``fill_step``. False when it is listed already or the project has its
    ``MAX_MATERIALIZED`` keys."""
    listed = [
        k
        for (k,) in con.execute(
            f"SELECT key FROM {MATERIALIZED} WHERE project_id = ?", [project_id]
        ).fetchall()
    ]
    if key in listed or len(listed) >= MAX_MATERIALIZED:
        return False
    mark = _watermark(con)
    [(last,)] = con.execute(
        "SELECT max(timestamp) FROM events WHERE project_id = ? AND received_at < ?",
        [project_id, mark],
    ).fetchall()
    pending = None if last is None else last + timedelta(microseconds=1)
    con.execute(f"INSERT INTO {MATERIALIZED} VALUES (?, ?, ?, ?)", [project_id, key, mark, pending])
    return True


def fill_step(con: duckdb.DuckDBPyConnection, span: timedelta = FILL_STEP) -> None:
    """Write ``span`` of event time of past rows for every key being filled, each in its
    own transaction."""
    rows = con.execute(
        f"SELECT project_id, key, mark, pending_before FROM {MATERIALIZED} "
        "WHERE pending_before IS NOT NULL"
    ).fetchall()
    for project_id, key, mark, before in rows:
        low = before - span
        con.execute("BEGIN")
        try:
            con.execute(
                values_sql("events", _PAST, "(SELECT ? AS project_id, ? AS key)"),
                [project_id, key, project_id, project_id, key, mark, low, before],
            )
            # the next step starts at the newest event left (gaps cost nothing)
            [(last,)] = con.execute(
                "SELECT max(timestamp) FROM events "
                "WHERE project_id = ? AND received_at < ? AND timestamp < ?",
                [project_id, mark, low],
            ).fetchall()
            pending = None if last is None else last + timedelta(microseconds=1)
            con.execute(
                f"UPDATE {MATERIALIZED} SET pending_before = ? WHERE project_id = ? AND key = ?",
                [pending, project_id, key],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


def _watermark(con: duckdb.DuckDBPyConnection) -> datetime:
    [(mark,)] = con.execute("SELECT watermark FROM rollup_state WHERE name = ?", [STATE]).fetchall()
    return mark  # type: ignore[no-any-return]


class Materializer:
    """The writer's account of the materialized keys: those complete (``ready``, which
    readers use; replaced, never changed in place, so any thread may read it), those asked
    for (``wanted``) and those listed whose past is still being written (``filling``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, enabled: bool) -> None:
        self.enabled = enabled
        self.ready = materialized(con) if enabled else {}
        self.wanted: set[tuple[str, str]] = set()
        self.filling = filling(con) if enabled else set()
        self.span = FILL_STEP

    def ask(self, project_id: str, key: str) -> None:
        """Ask for a (checked) key, unless it is complete or being filled already."""
        wanted = (project_id, key)
        complete = key in self.ready.get(project_id, ())
        if self.enabled and not complete and wanted not in self.filling:
            self.wanted.add(wanted)

    def list_wanted(self, con: duckdb.DuckDBPyConnection) -> None:
        """List the keys asked for (writer thread, every event received before the
        listing's mark stored; a failure is logged)."""
        while self.wanted:
            wanted = self.wanted.pop()
            try:
                if materialize(con, *wanted):
                    self.filling.add(wanted)
            except Exception:
                log.exception("materializing property %r of %s failed", wanted[1], wanted[0])

    def step(self, con: duckdb.DuckDBPyConnection) -> None:
        """One ``fill_step`` (writer thread); the keys it completes become ``ready``. On a
        failure (logged) the fills are left until the next start."""
        if not self.filling:
            return
        started = time.perf_counter()
        try:
            fill_step(con, self.span)
            left = filling(con)
        except Exception:
            log.exception("materializing properties failed; retrying at the next start")
            self.filling = set()
            return
        ms = (time.perf_counter() - started) * 1000
        low, high = _FILL_SPANS
        if ms < FILL_STEP_MS[0]:
            self.span = min(self.span * 2, high)
        elif ms > FILL_STEP_MS[1]:
            self.span = max(self.span / 2, low)
        done, self.filling = self.filling - left, left
        for project_id, key in done:
            keys = self.ready.get(project_id, frozenset())
            self.ready = {**self.ready, project_id: keys | {key}}
