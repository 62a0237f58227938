"""Sessions: the session list, the duration histogram, and entry and exit pages.

A session is ``sid`` from ``build.session_ctes``: the event's ``session_id``, or else a new
session after 30 minutes without an event from the same (identity-resolved) user. Every
builder here ends in ``ss``, one row per session:

* ``s_start`` / ``s_end``: first and last event, unix ms; ``s_duration``: seconds between;
* ``s_events``: event count; ``s_bounce``: only passive events (the contract's bounce);
* ``s_entry`` / ``s_exit``: the path of the first / last ``page_view`` (NULL without one);
* ``s_user``: the session's user; ``s_date``: the start day in the project's time zone.

A session that began before the period starts is seen from its first event inside it.
Durations are seconds. As the hosted API reports them, ``pct`` and ``engaged_pct`` are
percentages (one decimal) and a page's ``bounce_rate`` is a 0-1 fraction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from agentlytics.model.event import PAGE_VIEW, PASSIVE_EVENTS
from agentlytics.model.project import Project
from agentlytics.query.build import Scope
from agentlytics.query.dialect import Dialect
from agentlytics.query.engine import QueryEngine
from agentlytics.query.fragments import fragments, newest_first, session_rows
from agentlytics.query.model import Filter
from agentlytics.query.period import Period

PageKind = Literal["entry", "exit"]
PAGE_TYPES: dict[str, tuple[PageKind, ...]] = {
    "entry": ("entry",),
    "exit": ("exit",),
    "both": ("entry", "exit"),
}

#: (label, upper bound in seconds, exclusive); "0s" means under one second
SESSION_BUCKETS: tuple[tuple[str, float], ...] = (
    ("0s", 1),
    ("1-10s", 10),
    ("10-30s", 30),
    ("30-60s", 60),
    ("1-3m", 180),
    ("3-10m", 600),
    ("10-30m", 1800),
    ("30m+", math.inf),
)
#: a session at least this long (seconds) is engaged
ENGAGED_SECONDS = 30

_PASSIVE = ", ".join(f"'{name}'" for name in sorted(PASSIVE_EVENTS))


def session_rows_cte(F: Dialect) -> str:
    """``ss``: one row per session of ``sb`` (see the module docstring)."""
    page = f"name = '{PAGE_VIEW}' AND path IS NOT NULL AND path <> ''"
    start, end = F.epoch_ms("min(timestamp)"), F.epoch_ms("max(timestamp)")
    return (
        "ss AS (\n"
        "  SELECT sid, min(uid) AS s_user, count(*) AS s_events,\n"
        f"    {F.all_true(f'name IN ({_PASSIVE})')} AS s_bounce,\n"
        f"    {start} AS s_start, {end} AS s_end, ({end} - {start}) / 1000.0 AS s_duration,\n"
        f"    {F.arg_min_if('path', 'timestamp', page)} AS s_entry,\n"
        f"    {F.arg_max_if('path', 'timestamp', page)} AS s_exit,\n"
        f"    {F.format_bucket('day', 'min(lts)')} AS s_date\n"
        "  FROM sb GROUP BY sid\n)"
    )


def _with_sessions(scope: Scope, *, resolve: bool = True, since: datetime | None = None) -> str:
    """``ss`` as WITH clauses: from the store's session fragments when it has them
    (``query/fragments.py``; ``resolve`` and ``since`` as there), else from the events."""
    fr = fragments(scope, resolve=resolve, since=since)
    if fr is not None:
        ctes = fr.ctes()
        return f"WITH {ctes},\n{session_rows(fr)}\n"
    return f"WITH {scope.base_cte(sessions=True)},\n{session_rows_cte(scope.dialect)}\n"


def sessions_sql(
    scope: Scope, *, is_bounce: bool | None, limit: int, since: datetime | None = None
) -> str:
    """Sessions newest first, ``limit + 1`` rows (the extra one reports truncation);
    ``since``: only those starting from then on (when read from fragments)."""
    where = {None: "", True: "WHERE s_bounce\n", False: "WHERE NOT s_bounce\n"}[is_bounce]
    return (
        _with_sessions(scope, since=since)
        + "SELECT sid, s_user, s_start, s_end, s_duration, s_entry, s_exit, s_events, s_bounce, "
        + "s_date\nFROM ss\n"
        + where
        + f"ORDER BY s_start DESC, sid LIMIT {int(limit) + 1}"
    )


def bucket_sql() -> str:
    """The index into ``SESSION_BUCKETS`` of a session's duration."""
    whens = " ".join(
        f"WHEN s_duration < {bound:g} THEN {i}"
        for i, (_, bound) in enumerate(SESSION_BUCKETS)
        if math.isfinite(bound)
    )
    return f"CASE {whens} ELSE {len(SESSION_BUCKETS) - 1} END"


def distribution_sql(scope: Scope) -> str:
    F = scope.dialect
    return (
        _with_sessions(scope, resolve=False)
        + f"SELECT {bucket_sql()} AS b, count(*) AS n, {F.count_if('s_bounce')} AS bounces, "
        "avg(s_events) AS avg_events\nFROM ss GROUP BY b ORDER BY b"
    )


def pages_sql(scope: Scope, kinds: Sequence[PageKind], limit: int) -> str:
    """Top entry and/or exit pages; each list is capped at ``limit + 1`` rows."""
    F = scope.dialect
    parts = []
    for kind in kinds:
        column = f"s_{kind}"
        parts.append(
            "SELECT * FROM (\n"
            f"  SELECT '{kind}' AS kind, {column} AS page, count(*) AS n, "
            f"{F.count_if('s_bounce')} AS bounces,\n"
            "    avg(s_duration) AS avg_duration, avg(s_events) AS avg_events\n"
            f"  FROM ss WHERE {column} IS NOT NULL AND {column} <> ''\n"
            f"  GROUP BY {column} ORDER BY n DESC, page LIMIT {int(limit) + 1}\n"
            f") AS t_{kind}"
        )
    return _with_sessions(scope, resolve=False) + "\nUNION ALL\n".join(parts)


def list_sessions(
    engine: QueryEngine,
    project: Project,
    period: Period,
    *,
    user_id: str | None,
    is_bounce: bool | None,
    limit: int,
) -> dict[str, Any]:
    """``GET /sessions``. A ``user_id`` matches the identity-resolved user of each event."""
    filters = [Filter("user_id", "eq", user_id)] if user_id else []
    # the newest sessions first: those starting in the last hours, then further back until
    # there are more than ``limit`` (every session starting earlier ranks below them)
    for since in newest_first(engine.scope(project, period, filters)):
        scope = engine.scope(project, period, filters)
        sql = sessions_sql(scope, is_bounce=is_bounce, limit=limit, since=since)
        rows = engine.fetch(scope, sql)
        if len(rows) > limit:
            break
    return {
        "project": project.name,
        "period": period.as_json(),
        "sessions": [
            {
                "session_id": r["sid"],
                "user_id": r["s_user"],
                "project_id": project.id,
                "start_time": r["s_start"],
                "end_time": r["s_end"],
                "duration": r["s_duration"],
                "entry_page": r["s_entry"],
                "exit_page": r["s_exit"],
                "event_count": r["s_events"],
                # 0/1 as the hosted API's sessions table stores it (and ?is_bounce= takes)
                "is_bounce": int(bool(r["s_bounce"])),
                "date": r["s_date"],
            }
            for r in rows[:limit]
        ],
        "truncated": len(rows) > limit,
    }


def _pct(part: float, whole: float) -> float:
    return round(part * 100 / whole, 1) if whole else 0.0


def distribution(engine: QueryEngine, project: Project, period: Period) -> dict[str, Any]:
    """``GET /sessions/distribution``: non-empty duration buckets, shortest first."""
    scope = engine.scope(project, period)
    rows = engine.fetch(scope, distribution_sql(scope))
    total = sum(r["n"] for r in rows)
    buckets = []
    median: str | None = None
    seen = engaged = 0
    for r in rows:
        label = SESSION_BUCKETS[r["b"]][0]
        lower = SESSION_BUCKETS[r["b"] - 1][1] if r["b"] else 0
        buckets.append(
            {
                "bucket": label,
                "sessions": r["n"],
                "bounces": r["bounces"],
                "avg_events": round(float(r["avg_events"]), 1),
                "pct": _pct(r["n"], total),
            }
        )
        seen += r["n"]
        if median is None and seen * 2 >= total:
            median = label
        if lower >= ENGAGED_SECONDS:
            engaged += r["n"]
    return {
        "project": project.name,
        "period": period.as_json(),
        "distribution": buckets,
        "median_bucket": median,
        "engaged_pct": _pct(engaged, total),
        "total_sessions": total,
    }


def pages(
    engine: QueryEngine, project: Project, period: Period, *, page_type: str, limit: int
) -> dict[str, Any]:
    """``GET /pages``: ``entry_pages`` and/or ``exit_pages`` as ``page_type`` asks."""
    kinds = PAGE_TYPES[page_type]
    scope = engine.scope(project, period)
    rows = engine.fetch(scope, pages_sql(scope, kinds, limit))
    body: dict[str, Any] = {"project": project.name, "period": period.as_json()}
    truncated = False
    for kind in kinds:
        mine = sorted((r for r in rows if r["kind"] == kind), key=lambda r: (-r["n"], r["page"]))
        truncated = truncated or len(mine) > limit
        body[f"{kind}_pages"] = [
            {
                "page": r["page"],
                "sessions": r["n"],
                "bounces": r["bounces"],
                "bounce_rate": round(r["bounces"] / r["n"], 3),
                "avg_duration": round(float(r["avg_duration"]), 1),
                "avg_events": round(float(r["avg_events"]), 1),
            }
            for r in mine[:limit]
        ]
    body["truncated"] = truncated
    return body
