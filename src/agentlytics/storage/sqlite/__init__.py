"""Embedded metadata store on SQLite."""

from agentlytics.storage.sqlite.meta import SQLiteMetaStore

__all__ = ["SQLiteMetaStore"]
