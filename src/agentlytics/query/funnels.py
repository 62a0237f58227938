"""Ordered conversion funnels, one engine for ``POST /funnel``, saved funnels and MCP.

Semantics (the same on every backend):

* A step is matched by an event: ``{event, filters}`` (the native API) or
  ``{kind: "event"|"pageview", match, label?}`` (Convalytics definitions, where ``match`` is an
  event name or a page path, exact or with a trailing ``*`` wildcard).
* A key (a user, or a session with ``count_by="session_id"``) reaches step k when it has events
  for steps 1..k at strictly increasing times (an event never serves two steps) and step k
  happens at most ``window_ms`` after step 1: a step exactly at the window's end counts,
  1 ms later does not. Every step lies in the queried period.
* Each key starts from its best step-1 event (the deepest level, then the earliest); times to
  the next step are taken along that chain; a breakdown value is read from that step-1 event.
* At most 10 000 keys enter the funnel: the first by their first step-1 time (ties by key);
  the answer says when the cap applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from agentlytics.errors import ValidationError
from agentlytics.model.event import PAGE_VIEW
from agentlytics.model.project import Project
from agentlytics.query.build import Scope
from agentlytics.query.engine import QueryEngine
from agentlytics.query.model import FILTER_FIELDS, FILTER_OPS, Filter, check_property_key
from agentlytics.query.period import Period

USER_CAP = 10_000
MAX_STEPS = 10  # saved (Convalytics) funnels; POST /funnel allows 8
MAX_REQUEST_STEPS = 8
HOUR_MS = 3_600_000
DEFAULT_WINDOW_MS = 168 * HOUR_MS
MIN_WINDOW_MS = 60_000
MAX_WINDOW_MS = 90 * 24 * HOUR_MS
COUNT_BY = ("user_id", "session_id")
_STEP_FORMS = (
    "each step is {event, filters?: [{property, op, value}]} or "
    "{kind: 'event'|'pageview', match, label?} (match is exact or ends with one '*')"
)


@dataclass(frozen=True, slots=True)
class Pattern:
    """An exact text, or a prefix when written with a trailing ``*``."""

    text: str
    prefix: bool = False

    @classmethod
    def parse(cls, raw: Any, what: str) -> Pattern:
        if not isinstance(raw, str) or not raw.strip() or len(raw) > 500:
            raise _bad_steps(f"{what} must be a non-empty string of at most 500 characters")
        body = raw.strip()
        if "*" in body[:-1]:
            raise _bad_steps(f"{what} {raw!r}: '*' is only allowed once, at the end (a prefix)")
        return cls(body.rstrip("*"), body.endswith("*"))


@dataclass(frozen=True, slots=True)
class Step:
    label: str
    name: Pattern | None
    path: Pattern | None = None
    filters: tuple[Filter, ...] = ()


@dataclass(frozen=True, slots=True)
class FunnelSpec:
    steps: tuple[Step, ...]
    window_ms: int = DEFAULT_WINDOW_MS
    count_by: str = "user_id"
    breakdown: str | None = None
    breakdown_limit: int = 10


class FunnelRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The ``POST /funnel`` body."""

    project: str | None = None
    steps: Any = None
    conversion_window_hours: int | float = 168
    #: Convalytics spelling of the window; wins over the hours when given
    conversion_window_ms: int | None = None
    since: str = "30d"
    until: str | None = None
    count_by: str = "user_id"
    breakdown: str | None = None
    breakdown_limit: int = 10


def _bad_steps(message: str) -> ValidationError:
    return ValidationError(message, code="INVALID_FUNNEL_STEPS")


def _bad_param(message: str) -> ValidationError:
    return ValidationError(message, code="INVALID_PARAMETER")


def _check_count_by(count_by: str) -> str:
    if count_by not in COUNT_BY:
        raise _bad_param(f"count_by must be one of {', '.join(COUNT_BY)}")
    return count_by


def parse_steps(raw: Any, *, max_steps: int = MAX_STEPS) -> tuple[Step, ...]:
    """Native or Convalytics step definitions as engine steps.

    Raises:
        ValidationError: INVALID_FUNNEL_STEPS, INVALID_FILTER_OP, INVALID_PROPERTY_KEY.
    """
    if not isinstance(raw, list) or not 2 <= len(raw) <= max_steps:
        raise _bad_steps(f"steps must be a list of 2 to {max_steps} steps; {_STEP_FORMS}")
    return tuple(_parse_step(item, i) for i, item in enumerate(raw, 1))


def _parse_step(item: Any, number: int) -> Step:
    if not isinstance(item, Mapping):
        raise _bad_steps(f"step {number} is not an object; {_STEP_FORMS}")
    if "kind" in item or "match" in item:
        unknown = set(item) - {"kind", "match", "label"}
        kind = item.get("kind")
        if unknown or kind not in ("event", "pageview"):
            raise _bad_steps(f"step {number}: kind must be 'event' or 'pageview'; {_STEP_FORMS}")
        match = Pattern.parse(item.get("match"), f"step {number} match")
        label = item.get("label")
        if label is not None and (not isinstance(label, str) or len(label) > 200):
            raise _bad_steps(f"step {number}: label must be a string of at most 200 characters")
        shown = label or str(item["match"]).strip()
        if kind == "event":
            return Step(shown, match)
        return Step(shown, Pattern(PAGE_VIEW), path=match)
    if set(item) - {"event", "filters", "label"}:
        raise _bad_steps(f"step {number} has unknown fields {sorted(set(item))}; {_STEP_FORMS}")
    event = item.get("event")
    if not isinstance(event, str) or not event.strip() or len(event) > 200:
        raise _bad_steps(f"step {number}: event must be an event name; {_STEP_FORMS}")
    filters = item.get("filters") or []
    if not isinstance(filters, list):
        raise _bad_steps(f"step {number}: filters must be a list of {{property, op, value}}")
    label = item.get("label")
    return Step(
        label if isinstance(label, str) and label else event,
        Pattern(event),
        filters=tuple(_parse_filter(f, number) for f in filters),
    )


def _parse_filter(raw: Any, number: int) -> Filter:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("property"), str):
        raise _bad_steps(f"step {number}: each filter is {{property, op, value}}")
    op = raw.get("op", "eq")
    if op not in FILTER_OPS:
        raise ValidationError(
            f"step {number}: unknown filter op {op!r}; valid ops: {', '.join(FILTER_OPS)}",
            code="INVALID_FILTER_OP",
        )
    value = raw.get("value")
    if value is not None and not isinstance(value, str | int | float | bool):
        raise _bad_steps(f"step {number}: a filter value must be a string, number or boolean")
    return Filter(field_for(raw["property"]), op, value)


def field_for(prop: str) -> str:
    """A step-filter or breakdown name as a query-model field: a column, else a property."""
    if prop.startswith("properties."):
        return "properties." + check_property_key(prop.removeprefix("properties."))
    if prop in FILTER_FIELDS:
        return prop
    return "properties." + check_property_key(prop)


def spec_from_request(req: FunnelRequest) -> FunnelSpec:
    """Check a ``POST /funnel`` body, with 400s that name the valid choices."""
    steps = parse_steps(req.steps, max_steps=MAX_REQUEST_STEPS)
    if req.conversion_window_ms is not None:
        window = check_window_ms(req.conversion_window_ms)
    else:
        hours = req.conversion_window_hours
        if isinstance(hours, bool) or not 1 <= hours <= 8760:
            raise _bad_param("conversion_window_hours must be between 1 and 8760")
        window = int(hours * HOUR_MS)
    if not 1 <= req.breakdown_limit <= 50:
        raise _bad_param("breakdown_limit must be between 1 and 50")
    breakdown = field_for(req.breakdown) if req.breakdown else None
    return FunnelSpec(steps, window, _check_count_by(req.count_by), breakdown, req.breakdown_limit)


def check_window_ms(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad_param("conversion_window_ms must be whole milliseconds")
    if not MIN_WINDOW_MS <= value <= MAX_WINDOW_MS:
        raise _bad_param(
            f"conversion_window_ms must be between {MIN_WINDOW_MS} (1 minute) and "
            f"{MAX_WINDOW_MS} (90 days)"
        )
    return value


class RowScope(Scope):
    """Filters over ``base`` or ``sb`` aliased ``e``, which already carry ``uid``."""

    def column(self, name: str) -> str:
        if name.startswith("properties."):
            return super().column(name)
        column = FILTER_FIELDS[name]
        return {"uid": "e.uid", "sid": "e.session_id"}.get(column, f"e.{column}")


def _match_sql(scope: Scope, column: str, pattern: Pattern) -> str:
    if not pattern.prefix:
        return f"{column} = {scope.param(pattern.text)}"
    if not pattern.text:
        return f"{column} IS NOT NULL"
    sql = scope.dialect.starts_with(column)
    scope.param(pattern.text)
    return sql


def step_sql(scope: Scope, step: Step) -> str:
    parts = []
    if step.name is not None:
        parts.append(_match_sql(scope, "e.name", step.name))
    if step.path is not None:
        parts.append(_match_sql(scope, "e.path", step.path))
    parts += [scope.filter_sql(f) for f in step.filters]
    return " AND ".join(parts) or "1 = 1"


def funnel_sql(scope: Scope, spec: FunnelSpec) -> str:
    """One row per breakdown value: ``n{j}`` keys reaching step j, ``d{j}`` summed ms from
    step j to j+1, ``dall`` summed ms from step 1 to the last, ``total`` keys at step 1."""
    F = scope.dialect
    n = len(spec.steps)
    by_session = spec.count_by == "session_id"
    ctes = [scope.base_cte(sessions=by_session)]
    key = "e.sid" if by_session else "e.uid"
    bv = (
        f"nullif({F.to_text(scope.column(spec.breakdown))}, '')"
        if spec.breakdown
        else "nullif('', '')"
    )
    flags = ", ".join(f"({step_sql(scope, s)}) AS s{i}" for i, s in enumerate(spec.steps, 1))
    ctes += [
        f"fe0 AS (SELECT {key} AS k, {F.epoch_ms('e.timestamp')} AS t, {bv} AS bv, {flags}\n"
        f"  FROM {'sb' if by_session else 'base'} e)",
        f"fe AS (SELECT * FROM fe0 WHERE {' OR '.join(f's{i}' for i in range(1, n + 1))})",
        "starts AS (SELECT k, min(t) AS first_t FROM fe WHERE s1 GROUP BY k)",
        # a row number, not ORDER BY … LIMIT: DuckDB 2.0.0 drops a LIMIT it believes cannot
        # bind when the identity map is empty (tests/query/test_funnels.py pins the cap)
        "chosen AS (SELECT k FROM (SELECT k, row_number() OVER (ORDER BY first_t, k) AS pos\n"
        f"  FROM starts) r WHERE pos <= {USER_CAP})",
        "ev AS (SELECT * FROM fe WHERE k IN (SELECT k FROM chosen))",
    ]
    # c{k}_{j}: the time of step j on the greedy chain that takes the earliest step-k event
    # strictly after this row, then the earliest step k+1 strictly after that, and so on.
    # Earliest choices are always best, and the values never decrease along a partition,
    # so a windowed min over the step-k rows that follow reads the chain off.
    following = "(PARTITION BY k ORDER BY t RANGE BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)"
    source = "ev"
    for k in range(n, 1, -1):
        cols = [f"{F.min_if('t', f's{k}')} OVER {following} AS c{k}_{k}"]
        cols += [
            f"{F.min_if(f'c{k + 1}_{j}', f's{k}')} OVER {following} AS c{k}_{j}"
            for j in range(k + 1, n + 1)
        ]
        ctes.append(f"l{k} AS (SELECT *, {', '.join(cols)} FROM {source})")
        source = f"l{k}"
    times = ", ".join(f"c2_{j} AS t{j}" for j in range(2, n + 1))
    level = " + ".join(
        [
            "1",
            *(
                f"(CASE WHEN c2_{j} <= t + {int(spec.window_ms)} THEN 1 ELSE 0 END)"
                for j in range(2, n + 1)
            ),
        ]
    )
    ctes += [
        f"paths AS (SELECT k, bv, t AS t1, {times}, {level} AS lvl FROM {source} WHERE s1)",
        "ranked AS (SELECT *, row_number() OVER (PARTITION BY k ORDER BY lvl DESC, t1, bv) AS rn\n"
        "  FROM paths)",
    ]
    measures = ["count(*) AS n1"]
    measures += [f"{F.count_if(f'lvl >= {j}')} AS n{j}" for j in range(2, n + 1)]
    measures += [
        f"sum(CASE WHEN lvl >= {j + 1} THEN t{j + 1} - t{j} ELSE 0 END) AS d{j}"
        for j in range(1, n)
    ]
    measures.append(f"sum(CASE WHEN lvl >= {n} THEN t{n} - t1 ELSE 0 END) AS dall")
    measures.append("(SELECT count(*) FROM starts) AS total")
    return (
        "WITH " + ",\n".join(ctes) + f"\nSELECT bv, {', '.join(measures)}\n"
        "FROM ranked WHERE rn = 1 GROUP BY bv"
    )


def _rate(a: float, b: float) -> float:
    return round(a / b, 4) if b else 0.0


def _shape_steps(steps: Sequence[Step], counts: list[int], sums: list[int]) -> list[dict[str, Any]]:
    out = []
    for i, step in enumerate(steps):
        before = counts[i - 1] if i else counts[0]
        conversion = _rate(counts[i], before)
        after = counts[i + 1] if i + 1 < len(counts) else 0
        out.append(
            {
                "step": i + 1,
                "event": step.label,
                "users": counts[i],
                "conversion_rate": conversion,
                "conversion_from_start": _rate(counts[i], counts[0]),
                "drop_off_rate": round(1 - conversion, 4) if before else 0.0,
                "avg_time_to_next_ms": round(sums[i] / after, 1) if after else None,
            }
        )
    return out


def run_funnel(
    engine: QueryEngine, project: Project, period: Period, spec: FunnelSpec
) -> dict[str, Any]:
    """Compute a funnel (blocking: call from a worker thread)."""
    scope = RowScope(engine.dialect, project.id, period)
    rows = engine.fetch(scope, funnel_sql(scope, spec))
    n = len(spec.steps)
    groups = []
    for row in rows:
        counts = [int(row[f"n{j}"] or 0) for j in range(1, n + 1)]
        sums = [int(row[f"d{j}"] or 0) for j in range(1, n)]
        groups.append((row["bv"], counts, sums, int(row["dall"] or 0)))
    counts = [sum(g[1][j] for g in groups) for j in range(n)]
    sums = [sum(g[2][j] for g in groups) for j in range(n - 1)]
    completed = counts[-1]
    total = int(rows[0]["total"]) if rows else 0
    result: dict[str, Any] = {
        "steps": _shape_steps(spec.steps, counts, sums),
        "overall_conversion_rate": _rate(completed, counts[0]),
        "avg_time_to_convert_ms": round(sum(g[3] for g in groups) / completed, 1)
        if completed
        else None,
        "count_by": spec.count_by,
        "conversion_window_ms": spec.window_ms,
        "users_analyzed": counts[0],
        "users_total": total,
        "users_capped": total > USER_CAP,
        "period": period.as_json(),
        "breakdown": spec.breakdown,
        "breakdowns": [],
    }
    if spec.breakdown:
        # groups ordered by step-1 keys, most first; a missing value is its own group (null)
        groups.sort(key=lambda g: (-g[1][0], g[0] is None, g[0] or ""))
        result["breakdowns"] = [
            {
                "value": value,
                "steps": _shape_steps(spec.steps, c, s),
                "overall_conversion_rate": _rate(c[-1], c[0]),
            }
            for value, c, s, _ in groups[: spec.breakdown_limit]
        ]
        result["breakdowns_truncated"] = len(groups) > spec.breakdown_limit
    return result


def compute_funnel(
    engine: QueryEngine,
    project: Project,
    period: Period,
    steps: Sequence[Mapping[str, Any]],
    *,
    conversion_window_ms: int = DEFAULT_WINDOW_MS,
    count_by: str = "user_id",
) -> dict[str, Any]:
    """A Convalytics-style funnel (``{kind, match, label?}`` steps), as saved funnels and the
    MCP ``compute_funnel`` tool run it: per-step visitors, conversion from the previous step
    and from the start, average time to the next step and to convert.

    Raises:
        ValidationError: INVALID_FUNNEL_STEPS or INVALID_PARAMETER.
    """
    spec = FunnelSpec(
        parse_steps(list(steps), max_steps=MAX_STEPS),
        check_window_ms(conversion_window_ms),
        _check_count_by(count_by),
    )
    return run_funnel(engine, project, period, spec)
