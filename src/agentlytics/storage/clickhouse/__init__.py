"""Scale-out event store on ClickHouse: a server, or chDB in-process, via clickhouse-connect."""

from agentlytics.storage.clickhouse.store import ClickHouseEventStore

__all__ = ["ClickHouseEventStore"]
