"""Versioned ClickHouse migrations, applied in order at start-up.

Statements are idempotent (``IF NOT EXISTS``), so workers that start together and both apply
a migration do no harm; ``schema_migrations`` records what has been applied.

Design notes for ``events``:

* ``ReplacingMergeTree`` on the sorting key ``(project_id, toDate(timestamp), name,
  event_id)``: a retried event has the same key (the day, not the millisecond, because a
  server-assigned timestamp differs between retries), so merges collapse any duplicate that got
  past the writer's checks. The writer looks new ids up on this exact key before inserting,
  which the primary index answers by reading a granule or two.
* Reports filter on project and time first and event name next; UUIDv7 event ids keep a day's
  rows of one name roughly in time order, and the ``timestamp`` minmax index prunes inside a
  day.
* Monthly partitions keep part counts low and let a retention TTL drop whole parts.
* ``Nullable`` where the event model has ``None``: the query engine's answers must match
  DuckDB's, where ``count(DISTINCT user_id)`` skips NULLs and ``''`` is a value.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

MIGRATIONS: list[list[str]] = [
    # 1: the wide event table, the identity map and bot counts
    [
        """
        CREATE TABLE IF NOT EXISTS events (
            project_id LowCardinality(String),
            event_id String,
            name LowCardinality(String),
            timestamp DateTime64(3, 'UTC'),
            received_at DateTime64(3, 'UTC'),
            user_id Nullable(String),
            anonymous_id Nullable(String),
            session_id Nullable(String),
            user_email Nullable(String),
            user_name Nullable(String),
            url Nullable(String),
            host LowCardinality(Nullable(String)),
            path Nullable(String),
            title Nullable(String),
            referrer Nullable(String),
            referrer_host LowCardinality(Nullable(String)),
            utm_source LowCardinality(Nullable(String)),
            utm_medium LowCardinality(Nullable(String)),
            utm_campaign LowCardinality(Nullable(String)),
            utm_term Nullable(String),
            utm_content Nullable(String),
            country LowCardinality(Nullable(String)),
            browser LowCardinality(Nullable(String)),
            os LowCardinality(Nullable(String)),
            device LowCardinality(Nullable(String)),
            language LowCardinality(Nullable(String)),
            screen LowCardinality(Nullable(String)),
            timezone LowCardinality(Nullable(String)),
            environment LowCardinality(String),
            source LowCardinality(String),
            mcp_session_id Nullable(String),
            primitive_type LowCardinality(Nullable(String)),
            primitive_name LowCardinality(Nullable(String)),
            latency_ms Nullable(Float64),
            success Nullable(Bool),
            error Nullable(String),
            args Nullable(String) CODEC(ZSTD(3)),
            result Nullable(String) CODEC(ZSTD(3)),
            client LowCardinality(Nullable(String)),
            properties String CODEC(ZSTD(3)),
            INDEX timestamp_minmax timestamp TYPE minmax GRANULARITY 1
        )
        ENGINE = ReplacingMergeTree
        PARTITION BY toYYYYMM(timestamp)
        ORDER BY (project_id, toDate(timestamp), name, event_id)
        SETTINGS ttl_only_drop_parts = 1
        """,
        """
        CREATE TABLE IF NOT EXISTS identities (
            project_id LowCardinality(String),
            previous_id String,
            user_id String,
            created_at DateTime64(3, 'UTC')
        )
        ENGINE = ReplacingMergeTree(created_at)
        ORDER BY (project_id, previous_id)
        """,
        """
        CREATE TABLE IF NOT EXISTS bot_hits (
            project_id LowCardinality(String),
            timestamp DateTime64(3, 'UTC'),
            category LowCardinality(String),
            actor LowCardinality(String),
            name LowCardinality(String)
        )
        ENGINE = MergeTree
        PARTITION BY toYYYYMM(timestamp)
        ORDER BY (project_id, timestamp)
        SETTINGS ttl_only_drop_parts = 1
        """,
    ],
]

#: tables whose rows expire with the retention setting, and the expression they expire by
TTL_TABLES = {"events": "toDateTime(timestamp)", "bot_hits": "toDateTime(timestamp)"}


def migrate(client: Any) -> int:
    """Bring the schema up to date; returns the version now in force.

    ``client`` is a clickhouse-connect client already pointed at the target database.
    """
    client.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version UInt32, applied_at DateTime DEFAULT now()"
        ") ENGINE = ReplacingMergeTree ORDER BY version"
    )
    current = int(client.command("SELECT coalesce(max(version), 0) FROM schema_migrations") or 0)
    for version, statements in enumerate(MIGRATIONS, start=1):
        if version <= current:
            continue
        for sql in statements:
            client.command(sql)
        client.command(f"INSERT INTO schema_migrations (version) VALUES ({version})")
        current = version
    return current


def apply_retention(client: Any, days: int) -> None:
    """Make each table's TTL match ``days`` (0 keeps events forever).

    A table that is not a MergeTree (a ``Distributed`` table in front of a cluster's local
    tables) is left alone: the TTL of the local tables is the operator's.
    """
    for table, expr in TTL_TABLES.items():
        rows = client.query(
            "SELECT engine, engine_full FROM system.tables "
            "WHERE database = currentDatabase() AND name = {t:String}",
            parameters={"t": table},
        ).result_rows
        if not rows or "MergeTree" not in rows[0][0]:
            if days > 0:
                log.warning("retention_days: set the TTL of the tables behind %s yourself", table)
            continue
        engine = str(rows[0][1])
        has_ttl = " TTL " in f" {engine} "
        if days > 0:
            if f"toIntervalDay({days})" not in engine:
                client.command(f"ALTER TABLE {table} MODIFY TTL {expr} + toIntervalDay({days})")
        elif has_ttl:
            client.command(f"ALTER TABLE {table} REMOVE TTL")
