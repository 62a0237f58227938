"""Embedded event store on DuckDB: one file, one writer thread, many reader cursors."""

from agentlytics.storage.duckdb.store import DuckDBEventStore

__all__ = ["DuckDBEventStore"]
