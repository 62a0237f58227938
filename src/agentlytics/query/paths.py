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
there were more, ``truncated`` is true. One read query computes everything.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import msgspec

from agentlytics.errors import ValidationError
from agentlytics.model.event import PAGE_VIEW, PASSIVE_EVENTS
from agentlytics.model.project import Project
from agentlytics.query.build import Scope
from agentlytics.query.engine import QueryEngine
from agentlytics.query.period import Period

SINCE_CHOICES = ("7d", "14d", "30d", "90d")
_PASSIVE = ", ".join(f"'{name}'" for name in sorted(PASSIVE_EVENTS))
_OUTCOME_ORDER = {"goal": 0, "drop_off": 1, "truncated": 2}


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


def paths_sql(scope: Scope, spec: PathsSpec) -> str:
    """Rows of (session, entry, exit, converted, step number, label, kind), newest first."""
    F = scope.dialect
    pv = f"name = '{PAGE_VIEW}' AND path IS NOT NULL"
    base = scope.base_cte(sessions=True)
    goal = scope.param(spec.goal_event)
    window = "(PARTITION BY sid ORDER BY ts, eid ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    ctes = [
        base,
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
    ]
    return (
        "WITH " + ",\n".join(ctes) + "\n"
        "SELECT c.sid AS sid, c.entry_page AS entry_page, c.exit_page AS exit_page,\n"
        "  c.goal_ts IS NOT NULL AS converted, k.n AS n, k.label AS label\n"
        "FROM cand c LEFT JOIN kept k ON k.sid = c.sid\n"
        "ORDER BY c.pos, k.n"
    )


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
    scope = engine.scope(project, period)
    sessions = _sessions(engine.fetch(scope, paths_sql(scope, spec)))
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
