"""Bulk loads into the embedded store: an Arrow table in one transaction, with the summaries
that count its rows (``DuckDBEventStore.append_table``, run in the writer thread)."""

from __future__ import annotations

import contextlib
from datetime import datetime

import duckdb
import pyarrow as pa

from agentlytics.storage.duckdb import rollup, users

#: the tables a bulk load may write
TABLES = ("events", "bot_hits", "identities")


def load(
    con: duckdb.DuckDBPyConnection, table: pa.Table, into: str, watermark: datetime | None
) -> None:
    """``table`` (columns in the table's order) into ``into``, in one transaction, with no
    dedupe. Loaded events received before ``watermark`` (None: the store keeps no rollups)
    are counted into the summaries, which would otherwise never count them; identities get
    their users' numbers and aliases. Identities replace the map's rows for the same ids.
    ``into`` is one of ``TABLES`` (the store checks it before the load reaches its writer)."""
    verb = "INSERT OR REPLACE" if into == "identities" else "INSERT"
    con.register("_bulk", table)
    con.execute("BEGIN")
    try:
        con.execute(f"{verb} INTO {into} SELECT * FROM _bulk")
        if into == "events" and watermark is not None:
            rollup.count_bulk(con, "_bulk", watermark)
        elif into == "identities":
            users.identify_bulk(con, "_bulk")
        con.execute("COMMIT")
    except Exception:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_bulk")
