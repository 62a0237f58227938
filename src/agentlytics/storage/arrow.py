"""Events as Arrow tables, for the stores' bulk inserts: the embedded store's journal apply
and bulk loads (``storage/duckdb``), the ClickHouse store's inserts (``storage/clickhouse``).

The two differ only in how they take the two ms timestamps: DuckDB as naive UTC
(``EVENT_SCHEMA``), ClickHouse as UTC-aware (``event_schema(pa.timestamp("ms", tz="UTC"))``).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import pyarrow as pa

from agentlytics.model.event import EVENT_COLUMNS, Event

_TS_COLUMNS = {"timestamp", "received_at"}


def event_schema(timestamps: pa.DataType) -> pa.Schema:
    """The events' columns as Arrow types, the two timestamps as ``timestamps``."""

    def arrow_type(column: str) -> pa.DataType:
        if column in _TS_COLUMNS:
            return timestamps
        if column == "latency_ms":
            return pa.float64()
        if column == "success":
            return pa.bool_()
        return pa.string()

    return pa.schema([(c, arrow_type(c)) for c in EVENT_COLUMNS])


#: the events' columns as Arrow types, timestamps as naive UTC ms (the embedded store's)
EVENT_SCHEMA = event_schema(pa.timestamp("ms"))
_COLUMN_OF = [operator.attrgetter(c) for c in EVENT_COLUMNS]


def events_table(events: Sequence[Event], schema: pa.Schema = EVENT_SCHEMA) -> pa.Table:
    """Events as an Arrow table in ``schema``, a column at a time (one list per column
    rather than a tuple per event: as fast, and without a burst of thousands of tracked
    objects that set off garbage collections)."""
    return pa.Table.from_arrays(
        [
            pa.array(list(map(get, events)), type=f.type)
            for get, f in zip(_COLUMN_OF, schema, strict=True)
        ],
        schema=schema,
    )
