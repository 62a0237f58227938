"""Local time from precomputed UTC offsets equals DuckDB's time-zone conversion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from agentlytics.query.build import utc_offsets
from agentlytics.query.dialect import DUCKDB

ZONES = ["Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"]


@pytest.mark.parametrize("tz", ZONES)
def test_offsets_render_the_same_wall_clock_as_the_zone_conversion(tz: str) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2027, 1, 1, tzinfo=UTC)
    spans = utc_offsets(tz, start, end)
    assert spans is not None and spans[-1][1] is None
    assert DUCKDB.shift_local is not None
    shifted = DUCKDB.shift_local("ts", spans)
    converted = DUCKDB.local_time("ts", tz)
    con = duckdb.connect()
    # every 7 minutes of the year, and a minute either side of each change
    edges = [until for _, until in spans if until is not None]
    points = [start.replace(tzinfo=None) + timedelta(minutes=7 * i) for i in range(75_000)]
    points += [e + timedelta(seconds=d) for e in edges for d in (-60, -1, 0, 1, 60)]
    con.execute("CREATE TABLE t AS SELECT unnest(?::TIMESTAMP[]) AS ts", [points])
    differ = con.execute(f"SELECT count(*) FROM t WHERE {shifted} <> {converted}").fetchone()
    assert differ == (0,)


def test_a_year_of_paris_has_two_changes() -> None:
    spans = utc_offsets(
        "Europe/Paris", datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert spans == [
        (3600, datetime(2026, 3, 29, 1, 0)),
        (7200, datetime(2026, 10, 25, 1, 0)),
        (3600, None),
    ]
