"""A small thread-safe pool of autocommit connections (psycopg_pool would be one more package).

At most ``size`` connections exist; each is opened on first need and reused. A connection
that broke, or was handed back inside a transaction, is closed instead of reused.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row

Connection = psycopg.Connection[DictRow]


class ConnectionPool:
    def __init__(self, conninfo: str, *, size: int = 8, timeout_s: float = 30.0) -> None:
        self._conninfo = conninfo
        self._timeout_s = timeout_s
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def open(self) -> Connection:
        return psycopg.connect(self._conninfo, autocommit=True, row_factory=dict_row)

    @contextlib.contextmanager
    def connection(self) -> Iterator[tuple[Connection, bool]]:
        """A connection, and whether it was reused (a reused one may have gone stale)."""
        if self._closed:
            raise RuntimeError("metadata store is closed")
        if not self._slots.acquire(timeout=self._timeout_s):
            raise TimeoutError("no PostgreSQL connection free in the pool")
        con: Connection | None = None
        try:
            with self._lock:
                con = self._idle.pop() if self._idle else None
            reused = con is not None
            if con is None:
                con = self.open()
            yield con, reused
        finally:
            if con is not None:
                self._give_back(con)
            self._slots.release()

    def _give_back(self, con: Connection) -> None:
        healthy = (
            not con.closed
            and not con.broken
            and con.info.transaction_status == TransactionStatus.IDLE
        )
        with self._lock:
            if healthy and not self._closed:
                self._idle.append(con)
                return
        con.close()

    def discard_idle(self) -> None:
        """Close every idle connection (after the server went away, say)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for con in idle:
            con.close()

    def close(self) -> None:
        self._closed = True
        self.discard_idle()
