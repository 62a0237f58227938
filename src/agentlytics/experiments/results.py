"""Per-variant tallies of one experiment, read from the event store through the query engine.

A user belongs to the variant of their first ``$experiment_exposure`` for the experiment (users
are identity-resolved, so an anonymous visitor who later identifies stays one user). A user
converts when they did the goal event at or after that first exposure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from agentlytics.experiments.stats import Tally
from agentlytics.model.event import EXPERIMENT_EXPOSURE
from agentlytics.model.project import Project
from agentlytics.query.build import Scope
from agentlytics.query.engine import QueryEngine
from agentlytics.query.period import Period

if TYPE_CHECKING:
    from agentlytics.experiments.service import Experiment

#: client clocks run early or late: exposures a little before creation still count
CLOCK_SLACK = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Tallies:
    variants: list[Tally]
    #: users whose exposures named more than one variant (counted in their first one)
    users_in_several_variants: int


def window(experiment: Experiment, now: datetime | None = None, tz: str = "UTC") -> Period:
    """From creation to completion (results freeze then), or to now for a running experiment."""
    start = datetime.fromtimestamp(experiment.created_at / 1000, UTC) - CLOCK_SLACK
    if experiment.completed_at is not None:
        end = datetime.fromtimestamp(experiment.completed_at / 1000, UTC)
    else:
        end = (now or datetime.now(UTC)) + CLOCK_SLACK
    return Period(start, max(end, start + CLOCK_SLACK), tz)


def tally_sql(
    engine: QueryEngine, project: Project, experiment: Experiment, period: Period
) -> tuple[str, Scope]:
    """The one statement that counts exposures, users and conversions per variant."""
    F = engine.dialect
    scope = engine.scope(project, period)
    base = scope.base_cte(where=f"(e.name = '{EXPERIMENT_EXPOSURE}' OR e.name = ?)")
    # the WHERE clause above ends base's text, so its parameter follows base's own
    scope.params.append(experiment.goal_event)
    # parameters are positional: take them in the order they appear in the text below
    name = scope.param(experiment.name)
    keys = ", ".join(scope.param(v.key) for v in experiment.variants)
    goal = scope.param(experiment.goal_event)
    # ClickHouse resolves aliases anywhere in a query, so none may shadow a column it aggregates
    variant, first = F.arg_min("xv", "timestamp"), F.count_distinct("xv")
    converted, mixed = F.count_if("g.last_goal >= u.first_ts"), F.count_if("u.seen > 1")
    sql = (
        f"WITH {base},\n"
        "x AS (\n"
        f"  SELECT uid, {F.prop('properties', 'variant')} AS xv, timestamp FROM base\n"
        f"  WHERE name = '{EXPERIMENT_EXPOSURE}'\n"
        f"    AND {F.prop('properties', 'experiment')} = {name}\n"
        f"    AND {F.prop('properties', 'variant')} IN ({keys})\n),\n"
        "u AS (\n"
        f"  SELECT uid, {variant} AS variant, min(timestamp) AS first_ts, {first} AS seen\n"
        "  FROM x GROUP BY uid\n),\n"
        "g AS (\n"
        f"  SELECT uid, max(timestamp) AS last_goal FROM base WHERE name = {goal}\n"
        "  GROUP BY uid\n),\n"
        "per_user AS (\n"
        "  SELECT u.variant AS variant, count(*) AS users,\n"
        f"    {converted} AS conversions, {mixed} AS mixed\n"
        "  FROM u LEFT JOIN g ON g.uid = u.uid GROUP BY u.variant\n),\n"
        "per_event AS (SELECT xv AS variant, count(*) AS exposures FROM x GROUP BY xv)\n"
        "SELECT pe.variant AS variant, pe.exposures AS exposures, coalesce(pu.users, 0) AS users,\n"
        "  coalesce(pu.conversions, 0) AS conversions, coalesce(pu.mixed, 0) AS mixed\n"
        "FROM per_event pe LEFT JOIN per_user pu ON pu.variant = pe.variant"
    )
    return sql, scope


def tally(engine: QueryEngine, project: Project, experiment: Experiment, period: Period) -> Tallies:
    """Per-variant counts in configuration order (blocking: call from a worker thread)."""
    sql, scope = tally_sql(engine, project, experiment, period)
    rows = {str(r["variant"]): r for r in engine.fetch(scope, sql)}
    variants = []
    for v in experiment.variants:
        row = rows.get(v.key, {})
        variants.append(
            Tally(
                v.key,
                v.weight,
                exposures=int(row.get("exposures") or 0),
                users=int(row.get("users") or 0),
                conversions=int(row.get("conversions") or 0),
            )
        )
    mixed = sum(int(r.get("mixed") or 0) for r in rows.values())
    return Tallies(variants, mixed)
