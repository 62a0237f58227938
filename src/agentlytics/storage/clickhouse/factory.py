from __future__ import annotations

from agentlytics.settings import Settings
from agentlytics.storage.clickhouse.store import ClickHouseEventStore


def open_store(url: str, settings: Settings) -> ClickHouseEventStore:
    return ClickHouseEventStore(
        url,
        group_commit_ms=settings.group_commit_ms,
        dedupe_window_days=settings.dedupe_window_days,
        retention_days=settings.retention_days,
    )
