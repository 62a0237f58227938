from __future__ import annotations

from agentlytics.settings import Settings
from agentlytics.storage.duckdb.store import DuckDBEventStore
from agentlytics.storage.registry import url_path


def open_store(url: str, settings: Settings) -> DuckDBEventStore:
    return DuckDBEventStore(
        url_path(url),
        group_commit_ms=settings.group_commit_ms,
        dedupe_window_days=settings.dedupe_window_days,
        rollups=settings.rollups,
        journal=settings.ingest_journal,
        apply_ms=settings.journal_apply_ms,
        retention_days=settings.retention_days,
    )
