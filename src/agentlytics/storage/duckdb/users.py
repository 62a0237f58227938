"""Events per hour, event name and user, kept current by the DuckDB writer, for the distinct
users of ``/stats``, ``/insights``, ``/heatmap``, ``/properties`` and ``/query``; and the
users' numbers they are counted by.

``user_numbers`` gives every raw user id of a project (``coalesce(user_id, anonymous_id)``,
or an id of the identity map) a **number**, 1, 2, … per project in the order the writer
first met it, for good: numbers are never reused nor renumbered. ``uk`` is the 64-bit
``hash(project_id, uid)``, a lookup key for readers, unique in the table: an id whose hash
another id already has gets none (NULL; readers look such ids up by the id itself), and
readers compare the id of what they find, so answers never rest on the hash.
``user_aliases`` is the identity map by numbers: the number of every ``previous_id`` -> the
number of its ``user_id``.

``user_hourly`` holds, per project x UTC hour (of the event's ``timestamp``) x event name x
raw user's ``num`` (NULL for events with no id): the number of events, for exactly the
events whose ``received_at`` is before its watermark (``rollup_state`` row ``user_hourly``).
Rows are deltas: a key may have several rows, readers sum them. A distinct count over small
dense integers is exact and can be a bitmap (``bitstring_agg``, ``query/users.py``), 2-3x
cheaper than hashing ~300k keys per group.

* The writer numbers the users of the events it counts in the same statement sequence that
  fills the table, so a row never refers to a number that does not exist: in the
  transaction that moves the hourly rollup's watermark (``advance``), for late events in the
  commit that stores them (``count_late``), for bulk loads in their transaction (``bulk``),
  and ``rollup.catch_up_summaries`` builds it at start-up (after the migration that
  introduced numbers, from every event).
* Identities are numbered where they are written (``identify``, ``identify_bulk``): both ids
  get a number (a ``user_id`` known only from the map too), and the alias is replaced when
  the map's row is.
* ``user_hash`` holds the hash of a probe string as computed when ``uk`` was filled; if the
  engine hashes differently (an upgrade), ``uk`` is recomputed at start-up (the numbers stay).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb

from agentlytics.model.event import Event, Identity

TABLE = "user_hourly"
NUMBERS = "user_numbers"
ALIASES = "user_aliases"
#: its watermark's row in ``rollup_state``
STATE = TABLE
#: the probe ``user_hash`` keeps the hash of: two values, as ``uk`` hashes two
PROBE = ("agentlytics", "user key")
_EPOCH = datetime(1970, 1, 1)
_UID = "coalesce(user_id, anonymous_id)"
#: another summary by user number: ``(source, where)`` -> its ``INSERT`` of those rows
Aggregate = Callable[[str, str], str]


def found_sql(ids: str, project: str) -> str:
    """(``project_id``, ``uid``, ``num``) of the ids of ``ids`` (a relation ``i`` of
    ``project_id``, ``uid``, ``h``: their lookup key) found by their key. The ids are compared
    in a projection, not in the join: as join keys they would be read for every number,
    while the key alone lets DuckDB filter the scan of the numbers (a Bloom filter of the
    ids' keys) and read the rest for the few rows found (~45 -> ~10 ms at 1M users)."""
    return (
        "SELECT * FROM (SELECT i.project_id, i.uid, CASE WHEN d.uid = i.uid AND "
        f"d.project_id = {project} THEN d.num END AS num FROM {ids} i "
        f"JOIN {NUMBERS} d ON d.uk = i.h) AS f WHERE num IS NOT NULL"
    )


def _stage(con: duckdb.DuckDBPyConnection, ids: str, params: list[Any]) -> None:
    """Number the ids of ``ids`` (a relation of ``project_id``, ``uid``, ``seen``: when met)
    that have none, after each project's highest in order of ``seen``, with their lookup
    key unless another id has the same; leaves every one's number in ``_user_nums``
    (``project_id``, ``uid``, ``num``). Staged in temporary tables, whose true sizes let
    DuckDB hash the few ids and filter its scan of the numbers by them."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _user_ids AS SELECT project_id, uid, min(seen) AS seen, "
        f"hash(project_id, uid) AS h FROM ({ids}) AS i WHERE uid IS NOT NULL "
        "GROUP BY project_id, uid",
        params,
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _user_nums AS\n"
        f"{found_sql('_user_ids', 'i.project_id')}\n"
        f"UNION ALL SELECT i.project_id, i.uid, d.num FROM _user_ids i JOIN {NUMBERS} d "
        "ON d.uk IS NULL AND d.project_id = i.project_id AND d.uid = i.uid"
    )
    fresh = (
        "SELECT n.project_id, n.uid, n.h, (coalesce(m.top, 0) + row_number() OVER "
        "(PARTITION BY n.project_id ORDER BY n.seen, n.uid))::UINTEGER AS num\n"
        "FROM _user_ids n ANTI JOIN _user_nums k ON k.project_id = n.project_id "
        "AND k.uid = n.uid\n"
        f"LEFT JOIN (SELECT project_id, max(num) AS top FROM {NUMBERS} GROUP BY project_id) "
        "AS m ON m.project_id = n.project_id"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _user_new AS\n"
        "SELECT f.project_id, f.uid, f.num, CASE WHEN count(*) OVER (PARTITION BY f.h) = 1 "
        "AND t.uk IS NULL THEN f.h END AS uk\n"
        f"FROM ({fresh}) AS f LEFT JOIN {NUMBERS} t ON t.uk = f.h"
    )
    con.execute(f"INSERT INTO {NUMBERS} SELECT * FROM _user_new")
    con.execute("INSERT INTO _user_nums SELECT project_id, uid, num FROM _user_new")


def _unstage(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("_user_ids", "_user_nums", "_user_new"):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def aggregate_sql(source: str, where: str) -> str:
    """``INSERT`` the counts of the rows of ``source`` matching ``where``, their users'
    numbers from ``_user_nums``."""
    return (
        f"INSERT INTO {TABLE}\n"
        "SELECT e.project_id, date_trunc('hour', e.timestamp) AS hour, e.name, d.num, count(*)\n"
        f"FROM (SELECT project_id, timestamp, name, {_UID} AS uid FROM {source} "
        f"WHERE {where}) AS e\n"
        "LEFT JOIN _user_nums d ON d.project_id = e.project_id AND d.uid = e.uid\n"
        "GROUP BY e.project_id, hour, e.name, d.num"
    )


def fill(
    con: duckdb.DuckDBPyConnection,
    source: str,
    where: str,
    params: list[Any],
    aggregates: Sequence[Aggregate] = (aggregate_sql,),
) -> None:
    """Inside a transaction: number the users of the rows of ``source`` matching ``where``,
    then ``INSERT`` their rows into each summary by user number of ``aggregates`` (this
    module's ``aggregate_sql``, ``dims.aggregate_sql``)."""
    ids = f"SELECT project_id, {_UID} AS uid, received_at AS seen FROM {source} WHERE {where}"
    _stage(con, ids, params)
    for build in aggregates:
        con.execute(build(source, where), params)
    _unstage(con)


def count_late(
    con: duckdb.DuckDBPyConnection,
    events: Sequence[Event],
    more: Sequence[tuple[str, list[Any]]] = (),
) -> None:
    """Inside the commit that stores ``events`` (received before the watermark): their rows,
    counted here, their users numbered by the engine; then ``more`` (statements and their
    parameters, reading the numbers from ``_user_nums``)."""
    counts: dict[tuple[str, datetime, str, str | None], int] = {}
    for e in events:
        hour = _EPOCH + timedelta(hours=e.timestamp // 3_600_000)
        uid = e.user_id if e.user_id is not None else e.anonymous_id
        key = (e.project_id, hour, e.name, uid)
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return
    columns: list[list[Any]] = [list(c) for c in zip(*counts, strict=True)]
    rows = (
        "SELECT unnest(?::VARCHAR[]) AS project_id, unnest(?::TIMESTAMP[]) AS hour, "
        "unnest(?::VARCHAR[]) AS name, unnest(?::VARCHAR[]) AS uid, unnest(?::BIGINT[]) AS c"
    )
    params = [*columns, list(counts.values())]
    _stage(con, f"SELECT project_id, uid, hour AS seen FROM ({rows})", params)
    con.execute(
        f"INSERT INTO {TABLE}\n"
        f"SELECT r.project_id, r.hour, r.name, d.num, r.c FROM ({rows}) AS r\n"
        "LEFT JOIN _user_nums d ON d.project_id = r.project_id AND d.uid = r.uid",
        params,
    )
    for sql, args in more:
        con.execute(sql, args)
    _unstage(con)


def advance(
    con: duckdb.DuckDBPyConnection,
    low: datetime,
    high: datetime,
    more: Sequence[Aggregate] = (),
) -> None:
    """Inside the rollup's transaction that moves its watermark from ``low`` to ``high``:
    the rows of the events received in between (and those of the summaries ``more``, as
    ``fill``), and the same watermark."""
    where = "received_at >= ? AND received_at < ?"
    fill(con, "events", where, [low, high], (aggregate_sql, *more))
    con.execute("UPDATE rollup_state SET watermark = ? WHERE name = ?", [high, STATE])


def bulk(
    con: duckdb.DuckDBPyConnection,
    source: str,
    mark: datetime,
    more: Sequence[Aggregate] = (),
) -> None:
    """Inside a bulk load's transaction: the rows of the loaded events received before the
    watermark ``mark`` (the writer never reads them again; ``more`` as ``fill``)."""
    fill(con, source, "received_at < ?", [mark], (aggregate_sql, *more))


def _alias(con: duckdb.DuckDBPyConnection, pairs: str, params: list[Any]) -> None:
    """Number both ids of the identity map rows of ``pairs`` (``project_id``,
    ``previous_id``, ``user_id``, ``seen``) and write their aliases."""
    ids = (
        f"SELECT project_id, previous_id AS uid, seen FROM ({pairs}) AS p UNION ALL "
        f"SELECT project_id, user_id, seen FROM ({pairs}) AS p"
    )
    _stage(con, ids, params * 2)
    con.execute(
        f"INSERT OR REPLACE INTO {ALIASES}\n"
        "SELECT p.project_id, a.num, b.num FROM (\n"
        f"  {pairs}\n) AS p\n"
        "JOIN _user_nums a ON a.project_id = p.project_id AND a.uid = p.previous_id\n"
        "JOIN _user_nums b ON b.project_id = p.project_id AND b.uid = p.user_id",
        params,
    )
    _unstage(con)


def identify(con: duckdb.DuckDBPyConnection, identities: Sequence[Identity]) -> None:
    """Inside the commit that writes ``identities`` to the map (in order: a later one for the
    same previous id wins, as the map's ``INSERT OR REPLACE`` does)."""
    latest = {(i.project_id, i.previous_id): i for i in identities}
    if not latest:
        return
    rows = list(latest.values())
    _alias(
        con,
        "SELECT unnest(?::VARCHAR[]) AS project_id, unnest(?::VARCHAR[]) AS previous_id, "
        "unnest(?::VARCHAR[]) AS user_id, unnest(?::BIGINT[]) AS seen",
        [
            [i.project_id for i in rows],
            [i.previous_id for i in rows],
            [i.user_id for i in rows],
            [i.created_at for i in rows],
        ],
    )


def identify_bulk(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Inside a bulk load of the identity map from ``source``: its rows' numbers and
    aliases (as the map now holds them)."""
    _alias(
        con,
        "SELECT i.project_id, i.previous_id, i.user_id, "
        "epoch_ms(i.created_at) AS seen FROM identities i "
        f"SEMI JOIN {source} s ON s.project_id = i.project_id "
        "AND s.previous_id = i.previous_id",
        [],
    )


def hash_changed(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this engine hashes user ids differently from the one that filled ``uk``."""
    [(changed,)] = con.execute(
        "SELECT count(*) FROM user_hash WHERE probe IS DISTINCT FROM hash(?, ?)", list(PROBE)
    ).fetchall()
    return bool(changed)


def rehash(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute the lookup keys with this engine's hash (the numbers stay)."""
    con.execute("BEGIN")
    con.execute(f"UPDATE {NUMBERS} SET uk = hash(project_id, uid)")
    con.execute(
        f"UPDATE {NUMBERS} SET uk = NULL WHERE uk IN "
        f"(SELECT uk FROM {NUMBERS} GROUP BY uk HAVING count(*) > 1)"
    )
    con.execute("UPDATE user_hash SET probe = hash(?, ?)", list(PROBE))
    con.execute("COMMIT")


def highest(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Every project's highest number."""
    rows = con.execute(f"SELECT project_id, max(num) FROM {NUMBERS} GROUP BY project_id")
    return {project: int(top) for project, top in rows.fetchall()}
