from __future__ import annotations

from agentlytics.settings import Settings
from agentlytics.storage.postgres.meta import PostgresMetaStore


def open_store(url: str, settings: Settings) -> PostgresMetaStore:
    return PostgresMetaStore(url)
