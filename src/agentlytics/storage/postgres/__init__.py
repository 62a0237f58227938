"""Scale-out metadata store on PostgreSQL (psycopg 3)."""

from agentlytics.storage.postgres.meta import PostgresMetaStore

__all__ = ["PostgresMetaStore"]
