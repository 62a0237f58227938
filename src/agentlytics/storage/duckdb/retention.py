"""Retention for the embedded store: with ``retention_days``, what is older (whole UTC days,
so that every summary, by hour or by day, loses exactly the same events) is deleted from the
events and every summary in one transaction, at start-up and then hourly in the writer
thread; writes of older events are acknowledged but never stored."""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta

import duckdb

from agentlytics.model.event import BotHit
from agentlytics.storage.duckdb import frames, rollup
from agentlytics.storage.duckdb.frames import Row

log = logging.getLogger(__name__)

#: what retention deletes from: table, the column holding each row's time
EXPIRING = (("events", "timestamp"), ("bot_hits", "timestamp"), *rollup.SUMMARIES)
EVERY_S = 3600.0
_EPOCH = datetime(1970, 1, 1)


class Retention:
    def __init__(self, days: int) -> None:
        self.days = days
        self._pruned = 0.0

    def due(self) -> bool:
        """Whether an hourly expiry is due."""
        return bool(self.days) and time.monotonic() - self._pruned > EVERY_S

    def cutoff(self) -> datetime:
        """Events before this instant (a UTC midnight) are not kept."""
        day = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
        return day - timedelta(days=self.days)

    def expire(self, con: duckdb.DuckDBPyConnection) -> None:
        """Delete what is older than the retention from the events and every summary."""
        self._pruned = time.monotonic()
        if not self.days:
            return
        cutoff = self.cutoff()
        con.execute("BEGIN")
        try:
            [(deleted,)] = con.execute(
                "DELETE FROM events WHERE timestamp < ?", [cutoff]
            ).fetchall()
            con.execute("DELETE FROM bot_hits WHERE timestamp < ?", [cutoff])
            rollup.expire(con, cutoff)
            con.execute("COMMIT")
        except Exception:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        if deleted:
            log.warning("retention: deleted %d events from before %s UTC", deleted, cutoff)

    def retained(self, rows: list[Row], bots: list[BotHit]) -> tuple[list[Row], list[BotHit]]:
        """What of a write is within the retention."""
        if not self.days:
            return rows, bots
        ms = int((self.cutoff() - _EPOCH).total_seconds() * 1000)
        kept = [r for r in rows if r[frames.TIMESTAMP] >= ms]
        return kept, [b for b in bots if b.timestamp >= ms]
