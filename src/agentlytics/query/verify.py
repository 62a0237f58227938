"""The ``GET /verify`` snapshot: is anything arriving for this project?

Counts over the last 5 minutes, hour and day, the five most recent events and page views,
and the environments seen, as Convalytics' ``verifyStats``: the scan is capped at 24 hours
and 500 rows per kind, so it stays cheap under load (``last24h`` is then at most 500).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agentlytics.model.event import PAGE_VIEW
from agentlytics.model.project import Project
from agentlytics.query.engine import QueryEngine

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
MAX_ROWS = 500
RECENT = 5


def _recent_rows(
    engine: QueryEngine, project: Project, since_ms: int, *, page_views: bool
) -> list[dict[str, Any]]:
    since = datetime.fromtimestamp(since_ms / 1000, UTC).replace(tzinfo=None)
    op = "=" if page_views else "<>"
    sql = (
        f"SELECT name, path, environment, {engine.dialect.epoch_ms('timestamp')} AS ts "
        f"FROM events WHERE project_id = ? AND timestamp >= ? AND name {op} ? "
        f"ORDER BY timestamp DESC LIMIT {MAX_ROWS}"
    )
    return engine.store.query(sql, [project.id, since, PAGE_VIEW]).dicts()


def _summary(rows: list[dict[str, Any]], now_ms: int, label: str) -> dict[str, Any]:
    stamps = [int(r["ts"]) for r in rows]
    return {
        "last5m": sum(1 for t in stamps if t >= now_ms - 5 * MINUTE_MS),
        "last1h": sum(1 for t in stamps if t >= now_ms - HOUR_MS),
        "last24h": len(rows),
        "recent": [
            {label: r[label], "timestamp": int(r["ts"]), "environment": r["environment"]}
            for r in rows[:RECENT]
        ],
        "lastTimestamp": stamps[0] if stamps else None,
    }


def verify_snapshot(engine: QueryEngine, project: Project, now_ms: int) -> dict[str, Any]:
    """The body of ``/verify`` for a project (blocking: call from a worker thread)."""
    since = now_ms - DAY_MS
    events = _recent_rows(engine, project, since, page_views=False)
    views = _recent_rows(engine, project, since, page_views=True)
    environments = sorted({r["environment"] for r in events + views if r["environment"]})
    return {
        "ok": True,
        "project": {"name": project.name, "claimed": project.claimed},
        "now": now_ms,
        "events": _summary(events, now_ms, "name"),
        "pageviews": _summary(views, now_ms, "path"),
        "environments": environments,
    }
