from __future__ import annotations

from agentlytics.settings import Settings
from agentlytics.storage.registry import url_path
from agentlytics.storage.sqlite.meta import SQLiteMetaStore


def open_store(url: str, settings: Settings) -> SQLiteMetaStore:
    return SQLiteMetaStore(url_path(url))
