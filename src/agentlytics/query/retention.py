"""Cohort retention (``GET /retention``), bucketed in the project's time zone.

* A user's cohort is the period (day, week starting Monday, or month) of their first event,
  or with ``event`` of the first time they did it, looking back at most
  :data:`FIRST_SEEN_LOOKBACK_DAYS` before the oldest cohort.
* A user is retained at offset k when they did a returning event (any event; with ``event``,
  the ``returning_event``, which defaults to ``event``) in the k-th period after their cohort's.
  Offset 0 is the cohort itself, so every rate at offset 0 is 1.0.
* The cohorts are the ``cohorts`` periods ending with the one that holds ``until`` (now by
  default); a cohort only has the offsets that have begun by then.
* At most 10 000 users are analysed, the first by their first-seen time (ties by user id);
  ``users_capped`` says when the cap applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agentlytics.errors import ValidationError
from agentlytics.model.project import Project
from agentlytics.query.build import Scope
from agentlytics.query.engine import QueryEngine
from agentlytics.query.period import Period, parse_period

USER_CAP = 10_000
FIRST_SEEN_LOOKBACK_DAYS = 365
MAX_COHORTS = {"day": 30, "week": 12, "month": 12}
PERIODS = tuple(MAX_COHORTS)


@dataclass(frozen=True, slots=True)
class RetentionSpec:
    period: str = "week"
    cohorts: int = 8
    event: str | None = None
    returning_event: str | None = None


def check_spec(spec: RetentionSpec) -> RetentionSpec:
    """Raises:
    ValidationError: INVALID_PERIOD or INVALID_PARAMETER, naming the valid choices.
    """
    if spec.period not in MAX_COHORTS:
        raise ValidationError(f"period must be one of {', '.join(PERIODS)}", code="INVALID_PERIOD")
    most = MAX_COHORTS[spec.period]
    if not 1 <= spec.cohorts <= most:
        raise ValidationError(
            f"cohorts must be between 1 and {most} for period={spec.period} "
            f"(day: 30, week: 12, month: 12)",
            code="INVALID_PARAMETER",
        )
    for name in (spec.event, spec.returning_event):
        if name is not None and (not name.strip() or len(name) > 200):
            raise ValidationError(
                "event and returning_event must be event names", code="INVALID_PARAMETER"
            )
    return spec


def parse_until(until: str | None, tz: str) -> datetime | None:
    """``until`` (an ISO date includes that whole day) as an aware instant, or None for now.

    Raises:
        ValidationError: INVALID_DATE.
    """
    if not until:
        return None
    return parse_period(None, until, tz, default="36500d").end


def _floor(moment: datetime, unit: str) -> datetime:
    """The local start of the period holding a local (aware) moment."""
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        day -= timedelta(days=day.weekday())
    elif unit == "month":
        day = day.replace(day=1)
    return day.replace(tzinfo=None)


def _step(start: datetime, unit: str, count: int) -> datetime:
    """Move a naive local period start by ``count`` periods."""
    if unit == "day":
        return start + timedelta(days=count)
    if unit == "week":
        return start + timedelta(weeks=count)
    months = start.year * 12 + start.month - 1 + count
    return start.replace(year=months // 12, month=months % 12 + 1)


def cohort_starts(end: datetime, tz: str, spec: RetentionSpec) -> list[datetime]:
    """Naive local starts of the cohorts, oldest first; the last holds ``end`` (exclusive)."""
    last = _floor((end - timedelta(milliseconds=1)).astimezone(ZoneInfo(tz)), spec.period)
    return [_step(last, spec.period, -i) for i in range(spec.cohorts - 1, -1, -1)]


def retention_sql(scope: Scope, spec: RetentionSpec, first_start: datetime) -> str:
    """One row per non-empty cohort: its size and per-offset retained users."""
    F = scope.dialect
    unit = spec.period
    returning = spec.returning_event or spec.event
    base = scope.base_cte()  # parameters are positional: build in the order of the text
    cohort_cond = f"name = {scope.param(spec.event)}" if spec.event else "1 = 1"
    return_cond = f"name = {scope.param(returning)}" if returning else "1 = 1"
    offset = F.unit_diff(unit, "c.cohort", "a.b")
    flags = F.retention_flags(offset, spec.cohorts)
    ctes = [
        base,
        f"marked AS (SELECT uid, timestamp, {F.trunc(unit, 'lts')} AS b, ({cohort_cond}) AS is_c,"
        f" ({return_cond}) AS is_r FROM base)",
        "firsts AS (SELECT uid, min(timestamp) AS first_ts, min(b) AS cohort FROM marked "
        "WHERE is_c GROUP BY uid)",
        "eligible AS (SELECT uid, cohort, first_ts FROM firsts "
        f"WHERE first_ts >= {scope.param(first_start)})",
        # a row number rather than LIMIT, which DuckDB 2.0.0 may drop (see query/funnels.py)
        "chosen AS (SELECT uid, cohort FROM (SELECT uid, cohort,\n"
        "    row_number() OVER (ORDER BY first_ts, uid) AS pos FROM eligible) r\n"
        f"  WHERE pos <= {USER_CAP})",
        "acts AS (SELECT DISTINCT uid, b FROM marked "
        f"WHERE is_r AND timestamp >= {scope.param(first_start)})",
        "per_user AS (SELECT c.uid AS uid, c.cohort AS cohort, "
        + ", ".join(f"{flag} AS r{j}" for j, flag in enumerate(flags))
        + " FROM chosen c LEFT JOIN acts a ON a.uid = c.uid GROUP BY c.uid, c.cohort)",
    ]
    sums = ", ".join(f"sum(r{j}) AS r{j}" for j in range(spec.cohorts))
    return (
        "WITH " + ",\n".join(ctes) + f"\nSELECT {F.format_bucket('day', 'cohort')} AS cohort_date, "
        f"count(*) AS users, {sums}, (SELECT count(*) FROM eligible) AS total\n"
        "FROM per_user GROUP BY cohort ORDER BY cohort"
    )


def run_retention(
    engine: QueryEngine, project: Project, spec: RetentionSpec, *, until: datetime | None = None
) -> dict[str, Any]:
    """Compute retention cohorts (blocking: call from a worker thread)."""
    check_spec(spec)
    tz = project.timezone
    end = until or datetime.now(UTC)
    starts = cohort_starts(end, tz, spec)
    zone = ZoneInfo(tz)
    first_start = starts[0].replace(tzinfo=zone).astimezone(UTC)
    period = Period(first_start - timedelta(days=FIRST_SEEN_LOOKBACK_DAYS), end, tz)
    scope = engine.scope(project, period)
    sql = retention_sql(scope, spec, first_start.replace(tzinfo=None))
    rows = {r["cohort_date"]: r for r in engine.fetch(scope, sql)}
    total = next((int(r["total"]) for r in rows.values()), 0)
    sizes: list[int] = []
    kept: list[list[int]] = []
    for i, start in enumerate(starts):
        row = rows.get(start.strftime("%Y-%m-%d"))
        users = int(row["users"]) if row else 0
        # offsets that have begun by ``end``; offset 0 is the cohort itself
        retained = [int(row[f"r{j}"] or 0) if row else 0 for j in range(spec.cohorts - i)]
        retained[0] = users
        sizes.append(users)
        kept.append(retained)
    cohorts = [
        {
            "date": start.strftime("%Y-%m-%d"),
            "users": users,
            "retained": retained,
            "rates": [round(r / users, 4) if users else 0.0 for r in retained],
        }
        for start, users, retained in zip(starts, sizes, kept, strict=True)
    ]
    average = []
    for j in range(spec.cohorts):
        size = sum(u for u, r in zip(sizes, kept, strict=True) if len(r) > j)
        back = sum(r[j] for r in kept if len(r) > j)
        average.append(round(back / size, 4) if size else 0.0)
    analyzed = sum(sizes)
    return {
        "period": spec.period,
        "cohorts": cohorts,
        "average_rates": average,
        "users_analyzed": analyzed,
        "users_total": total,
        "users_capped": total > USER_CAP,
        "event": spec.event,
        "returning_event": spec.returning_event or spec.event,
        "timezone": tz,
    }
