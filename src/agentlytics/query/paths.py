"""Session paths (``POST /paths``): entry page → what happened → goal, drop-off or truncation.

Paths are session-local. A candidate session has at least one page view; its path starts at
its first page view and lists, in order, the pages it viewed and the meaningful events it
sent (not passive ones such as scroll depth, nor ``$``-prefixed internal events), with
immediate repeats collapsed. The path ends:

* ``goal``: the goal event happened in the session; the path holds the steps before it;
* ``truncated``: no goal, and the session had more than ``max_steps`` steps (the path holds
  the first ``max_steps``);
* ``drop_off``: no goal, and the session ended within ``max_steps`` steps.

The newest ``candidate_session_cap`` sessions that started in the period are analysed; when
there were more, ``truncated`` is true. Those are found from the period's end backwards
(``fetch_paths``): the sessions seen in the newest hours and their events, then the whole
sessions, with a check that enough of them start in those hours (else a wider look).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from agentlytics.errors import ValidationError
from agentlytics.model.event import PAGE_VIEW, PASSIVE_EVENTS
from agentlytics.model.project import Project
from agentlytics.query.build import Scope, session_ctes
from agentlytics.query.engine import QueryEngine
from agentlytics.query.period import Period

SINCE_CHOICES = ("7d", "14d", "30d", "90d")
_PASSIVE = ", ".join(f"'{name}'" for name in sorted(PASSIVE_EVENTS))
_OUTCOME_ORDER = {"goal": 0, "drop_off": 1, "truncated": 2}
#: how far back from the period's end ``fetch_paths`` first looks for session starts
RECENT_FIRST = timedelta(hours=6)


class PathsSpec(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The ``POST /paths`` body, besides ``project``."""

    goal_event: str
    since: str = "30d"
    max_steps: int = 5
    entry_limit: int = 10
    path_limit: int = 5
    candidate_session_cap: int = 5000


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{name} must be between {low} and {high}", code="INVALID_PARAMETER")


def check_spec(spec: PathsSpec) -> PathsSpec:
    """Requests outside the bounds fail rather than silently widening the work.

    Raises:
        ValidationError: MISSING_FIELDS or INVALID_PARAMETER, naming the valid choices.
    """
    if not isinstance(spec.goal_event, str) or not spec.goal_event.strip():
        raise ValidationError("goal_event is required (an event name)", code="MISSING_FIELDS")
    if len(spec.goal_event) > 200:
        raise ValidationError("goal_event is at most 200 characters", code="INVALID_PARAMETER")
    if spec.since not in SINCE_CHOICES:
        raise ValidationError(
            f"since must be one of {', '.join(SINCE_CHOICES)}", code="INVALID_PARAMETER"
        )
    _check_range("max_steps", spec.max_steps, 1, 5)
    _check_range("entry_limit", spec.entry_limit, 1, 20)
    _check_range("path_limit", spec.path_limit, 1, 10)
    _check_range("candidate_session_cap", spec.candidate_session_cap, 100, 10_000)
    return spec


def recent_sessions_sql(scope: Scope, recent: datetime) -> str:
    """``rs``: the sessions (by ``session_id``) with a page view at or after ``recent``."""
    return (
        "rs AS (SELECT e.session_id AS sid FROM events e\n"
        f"  WHERE e.project_id = {scope.param(scope.project_id)}"
        f" AND e.timestamp >= {scope.param(recent)}"
        f" AND e.timestamp < {scope.param(scope.period.end_param)}\n"
        f"    AND e.session_id IS NOT NULL AND e.name = '{PAGE_VIEW}' AND e.path IS NOT NULL\n"
        "  GROUP BY e.session_id)"
    )


def first_event_sql(scope: Scope, recent: datetime) -> str:
    """The time of the first event in the period of the sessions of ``rs``."""
    return (
        f"WITH {recent_sessions_sql(scope, recent)}\n"
        "SELECT min(e.timestamp) AS first_ts FROM events e\n"
        f"WHERE e.project_id = {scope.param(scope.project_id)}"
        f" AND e.timestamp >= {scope.param(scope.period.start_param)}"
        f" AND e.timestamp < {scope.param(scope.period.end_param)}\n"
        "  AND e.session_id IN (SELECT sid FROM rs)"
    )


def paths_sql(
    scope: Scope,
    spec: PathsSpec,
    recent: datetime | None = None,
    first: datetime | None = None,
) -> str:
    """Rows of (session, entry, exit, converted, step number, label, kind), newest first,
    and ``recent_starts``, the sessions that start at or after ``recent``.

    ``recent`` (naive UTC, inside the period): of the sessions with a ``session_id``, only
    those with a page view at or after it are read, with all their events (all at or after
    ``first``, from ``first_event_sql``; the events are stored in time order, so only that
    stretch is read), plus every event without a ``session_id`` (their sessions come from
    the inactivity rule over the whole period). Every session that starts at or after
    ``recent`` is then read whole, so when there are more than ``candidate_session_cap`` of
    them the newest are exact (``fetch_paths`` checks, and reads further back when not).
    """
    F = scope.dialect
    pv = f"name = '{PAGE_VIEW}' AND path IS NOT NULL"
    if recent is None:
        ctes = [scope.base_cte(sessions=True)]
    else:
        join = scope.identity_join() if scope.identities else ""
        cols = "e.event_id, e.name, e.timestamp, e.session_id, e.path"
        ctes = [
            recent_sessions_sql(scope, recent),
            "base AS (\n"
            f"  SELECT {cols}, {scope.user_sql()} AS uid FROM events e\n{join}"
            f"  WHERE e.project_id = {scope.param(scope.project_id)}"
            f" AND e.timestamp >= {scope.param(scope.period.start_param)}"
            f" AND e.timestamp < {scope.param(scope.period.end_param)}"
            " AND e.session_id IS NULL\n"
            "  UNION ALL\n"
            f"  SELECT {cols}, coalesce(e.user_id, e.anonymous_id) AS uid FROM events e\n"
            f"  WHERE e.project_id = {scope.param(scope.project_id)}"
            f" AND e.timestamp >= {scope.param(first or recent)}"
            f" AND e.timestamp < {scope.param(scope.period.end_param)}"
            " AND e.session_id IN (SELECT sid FROM rs)\n)",
            session_ctes(F),
        ]
    goal = scope.param(spec.goal_event)
    window = "(PARTITION BY sid ORDER BY ts, eid ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    since = "NULL" if recent is None else scope.param(recent)
    ctes += [
        f"sess AS (SELECT sid, {F.min_if('timestamp', pv)} AS start_ts,\n"
        f"    {F.min_if('timestamp', f'name = {goal}')} AS goal_ts,\n"
        f"    {F.arg_min_if('path', 'timestamp', pv)} AS entry_page,\n"
        f"    {F.arg_max_if('path', 'timestamp', pv)} AS exit_page\n"
        "  FROM sb GROUP BY sid)",
        # a row number rather than LIMIT, which DuckDB 2.0.0 may drop (see query/funnels.py)
        "cand AS (SELECT * FROM (SELECT *,\n"
        "    row_number() OVER (ORDER BY start_ts DESC, sid) AS pos FROM sess\n"
        f"    WHERE start_ts IS NOT NULL) r WHERE pos <= {int(spec.candidate_session_cap) + 1})",
        "marked AS (SELECT e.sid AS sid, e.timestamp AS ts, e.event_id AS eid,\n"
        f"    CASE WHEN e.name = '{PAGE_VIEW}' THEN e.path ELSE e.name END AS label,\n"
        f"    CASE WHEN e.name = '{PAGE_VIEW}' THEN 'page' ELSE 'event' END AS kind\n"
        "  FROM sb e JOIN cand c ON c.sid = e.sid\n"
        "  WHERE e.timestamp >= c.start_ts AND (c.goal_ts IS NULL OR e.timestamp < c.goal_ts)\n"
        f"    AND ((e.name = '{PAGE_VIEW}' AND e.path IS NOT NULL)\n"
        f"      OR (e.name NOT IN ({_PASSIVE}) AND e.name NOT LIKE '$%')))",
        f"dedup AS (SELECT *, {F.lag('label', window)} AS prev FROM marked)",
        "steps AS (SELECT sid, label, kind,\n"
        "    row_number() OVER (PARTITION BY sid ORDER BY ts, eid) AS n\n"
        "  FROM dedup WHERE prev IS NULL OR prev <> label)",
        f"kept AS (SELECT * FROM steps WHERE n <= {int(spec.max_steps) + 1})",
        f"starts AS (SELECT count(*) AS recent_starts FROM sess WHERE start_ts >= {since})",
    ]
    return (
        "WITH " + ",\n".join(ctes) + "\n"
        "SELECT c.sid AS sid, c.entry_page AS entry_page, c.exit_page AS exit_page,\n"
        "  c.goal_ts IS NOT NULL AS converted, k.n AS n, k.label AS label,\n"
        "  (SELECT recent_starts FROM starts) AS recent_starts\n"
        "FROM cand c LEFT JOIN kept k ON k.sid = c.sid\n"
        "ORDER BY c.pos, k.n"
    )


def fetch_paths(
    engine: QueryEngine, project: Project, period: Period, spec: PathsSpec
) -> list[dict[str, Any]]:
    """The rows of ``paths_sql``, reading back from the period's end only as far as needed:
    the newest hours first, four times further each time there were not more than
    ``candidate_session_cap`` sessions starting in them (most projects need one round)."""
    end = period.end_param
    span = RECENT_FIRST
    while True:
        recent = end - span
        if recent <= period.start_param:
            scope = engine.scope(project, period)
            return engine.fetch(scope, paths_sql(scope, spec))
        scope = engine.scope(project, period)
        [found] = engine.fetch(scope, first_event_sql(scope, recent))
        first = found["first_ts"]
        scope = engine.scope(project, period)
        rows = engine.fetch(
            scope,
            paths_sql(scope, spec, recent, _naive(first) if first is not None else None),
        )
        if rows and int(rows[0]["recent_starts"] or 0) > spec.candidate_session_cap:
            return rows
        span *= 4


def _naive(value: Any) -> datetime:
    """A timestamp as the engine returns it (ISO text after ``clean``) as naive UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


@dataclass
class _Session:
    entry: str
    exit: str
    converted: bool
    steps: list[str]

    def outcome(self, max_steps: int) -> str:
        if self.converted:
            return "goal"
        return "truncated" if len(self.steps) > max_steps else "drop_off"


def _sessions(rows: list[dict[str, Any]]) -> list[_Session]:
    """Rows grouped by session, in the query's order (newest session first)."""
    found: dict[str, _Session] = {}
    for row in rows:
        s = found.get(row["sid"])
        if s is None:
            s = found[row["sid"]] = _Session(
                row["entry_page"], row["exit_page"], bool(row["converted"]), []
            )
        # a session with no step before its goal joins no row (n is NULL, or 0 on ClickHouse)
        if row["n"]:
            s.steps.append(row["label"])
    return list(found.values())


def _top(counter: Counter[Any], limit: int) -> list[tuple[Any, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))[:limit]


def run_paths(
    engine: QueryEngine, project: Project, period: Period, spec: PathsSpec
) -> dict[str, Any]:
    """Entry-page trees of session paths (blocking: call from a worker thread)."""
    check_spec(spec)
    sessions = _sessions(fetch_paths(engine, project, period, spec))
    truncated = len(sessions) > spec.candidate_session_cap
    sessions = sessions[: spec.candidate_session_cap]
    by_entry: dict[str, list[_Session]] = defaultdict(list)
    for s in sessions:
        by_entry[s.entry].append(s)
    entries = []
    for entry, group in _top(Counter({e: len(g) for e, g in by_entry.items()}), spec.entry_limit):
        members = by_entry[entry]
        paths: Counter[tuple[tuple[str, ...], str]] = Counter(
            (tuple(s.steps[: spec.max_steps]), s.outcome(spec.max_steps)) for s in members
        )
        ranked = sorted(paths.items(), key=lambda kv: (-kv[1], _OUTCOME_ORDER[kv[0][1]], kv[0][0]))
        shown = ranked[: spec.path_limit]
        exits: Counter[str] = Counter(s.exit for s in members)
        exit_goals: Counter[str] = Counter(s.exit for s in members if s.converted)
        conversions = sum(s.converted for s in members)
        entries.append(
            {
                "entry_page": entry,
                "sessions": group,
                "conversions": conversions,
                "conversion_rate": round(conversions / group, 4),
                "paths": [
                    {"steps": list(steps), "sessions": count, "outcome": outcome}
                    for (steps, outcome), count in shown
                ],
                "other_paths_sessions": sum(count for _, count in ranked[spec.path_limit :]),
                "exit_pages": [
                    {
                        "page": page,
                        "sessions": count,
                        "conversions": exit_goals[page],
                        "drop_offs": count - exit_goals[page],
                    }
                    for page, count in _top(exits, spec.path_limit)
                ],
            }
        )
    return {
        "goal_event": spec.goal_event,
        "since": spec.since,
        "period": period.as_json(),
        "max_steps": spec.max_steps,
        "entries": entries,
        "sessions_analyzed": len(sessions),
        "conversions": sum(s.converted for s in sessions),
        "truncated": truncated,
    }
