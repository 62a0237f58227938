"""How long the writer's upkeep of the hourly users (and users per path) takes for the last
hour and day received.

    PYTHONPATH=<tree>/src .venv/bin/python -m bench.user_upkeep --data-dir /tmp/agentlytics-10m

Opens the data directory's DuckDB file (no server may have it open; nothing is kept: each
run is rolled back) and, in a transaction, removes the span's rows of ``user_hourly`` (and,
where users have numbers, the numbers of the users first met in the span, as before their
first step), then fills them again as the writer's rollup step does (``users.fill``; a
tree from before numbers: ``users.aggregate_sql``); a tree with the users per path
(``dims.py``) removes and fills its rows too, in the same step. Prints the median of
``--runs``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from agentlytics.storage.duckdb import users

try:
    from agentlytics.storage.duckdb import dims
except ImportError:  # a tree from before the users per path
    dims = None  # type: ignore[assignment]

_FIRST_MET_IN_SPAN = (
    "DELETE FROM user_numbers WHERE num > (SELECT coalesce(max(d.num), 0) FROM user_numbers d "
    "WHERE d.uid IN (SELECT coalesce(user_id, anonymous_id) FROM events WHERE received_at < ?)) "
    "AND uid NOT IN (SELECT previous_id FROM identities UNION SELECT user_id FROM identities)"
)
_WHERE = "received_at >= ? AND received_at < ?"


def upkeep(con: duckdb.DuckDBPyConnection, low: datetime, high: datetime) -> float:
    """One rolled-back fill of the events received in [low, high); its time in ms."""
    numbered = hasattr(users, "fill")
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM {users.TABLE} WHERE hour >= ?", [low - timedelta(hours=2)])
        if dims is not None:
            con.execute(f"DELETE FROM {dims.TABLE} WHERE hour >= ?", [low - timedelta(hours=2)])
        if numbered:
            con.execute(_FIRST_MET_IN_SPAN, [low])
        started = time.perf_counter()
        if numbered:
            if dims is not None:
                aggregates = [users.aggregate_sql, dims.aggregate_sql]
                users.fill(con, "events", _WHERE, [low, high], aggregates)
            else:
                users.fill(con, "events", _WHERE, [low, high])
        else:
            con.execute(users.aggregate_sql("events", _WHERE), [low, high])
        return (time.perf_counter() - started) * 1000
    finally:
        con.execute("ROLLBACK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    con = duckdb.connect(str(args.data_dir / "events.duckdb"))
    try:
        [(mark,)] = con.execute(
            "SELECT watermark FROM rollup_state WHERE name = ?", [users.STATE]
        ).fetchall()
        for span in (timedelta(hours=1), timedelta(days=1)):
            low = mark - span
            [(events,)] = con.execute(
                f"SELECT count(*) FROM events WHERE {_WHERE}", [low, mark]
            ).fetchall()
            times = [upkeep(con, low, mark) for _ in range(args.runs)]
            print(
                f"{span}: {events:,} events, median {statistics.median(times):.1f} ms "
                f"({', '.join(f'{t:.0f}' for t in times)})"
            )
    finally:
        con.close()


if __name__ == "__main__":
    main()
