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
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agentlytics.errors import ValidationError
from agentlytics.model.project import Project
from agentlytics.query.build import Scope, utc_offsets
from agentlytics.query.engine import QueryEngine
from agentlytics.query.period import Period, parse_period

USER_CAP = 10_000
FIRST_SEEN_LOOKBACK_DAYS = 365
MAX_COHORTS = {"day": 30, "week": 12, "month": 12}
#: the store's per-(project, raw user id, UTC day) first and last event times
ACTIVITY_TABLE = "activity_daily"
#: the store's per-(project, raw user id) first event time
FIRST_TABLE = "user_first"
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


@dataclass(frozen=True, slots=True)
class ActivityDays:
    """How ``retention_sql`` reads the store's per-(user, UTC day) activity table
    (``storage/duckdb/activity.py``): its rows for the whole UTC days ``[first, last)``
    except ``skip``, and the events of every other moment of the period."""

    first: date
    last: date
    #: UTC days in which the zone's offset changes (read from the events)
    skip: tuple[date, ...]
    #: the zone is UTC all along: a UTC day's first and last events share every bucket
    utc: bool
    #: the table's watermark (naive UTC): it holds the events received before it. Read
    #: before the query: rows the writer adds meanwhile are read twice, which changes no
    #: first time and no set of periods
    mark: datetime


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0))


def activity_days(scope: Scope, mark: datetime) -> ActivityDays | None:
    """The table's part of the period, or None when the events must be read throughout."""
    spans = utc_offsets(scope.period.tz, scope.period.start, scope.period.end)
    if spans is None:
        return None
    start, end = scope.period.start_param, scope.period.end_param
    first = start.date() + (timedelta(days=1) if start.time() != time(0) else timedelta(0))
    last = end.date()
    if first >= last:
        return None
    skip = tuple(sorted({until.date() for _, until in spans if until is not None}))
    return ActivityDays(first, last, skip, all(offset == 0 for offset, _ in spans), mark)


def _points(
    scope: Scope, spec: RetentionSpec, table: ActivityDays | None, since: datetime | None = None
) -> str:
    """``pts``: (raw user id, time, is a cohort event, is a returning event).

    Without the table: one row per event. With it: per user and whole UTC day, the first
    and the last event (in a UTC day the zone's offset does not change, so no local period
    can lie strictly between them: the periods they fall in are exactly the user's periods
    that day), then the events of the rest of the period and those the table does not hold
    yet (received since its watermark). A point read twice changes nothing.

    ``since`` (naive UTC): points before it may be left out (whole UTC days are kept).
    """
    raw = "coalesce(e.user_id, e.anonymous_id)"

    def after() -> str:  # a function: parameters are positional, bound in the text's order
        return f" AND e.timestamp >= {scope.param(since)}" if since else ""

    if table is None:
        returning = spec.returning_event or spec.event
        is_c = (
            f"CASE WHEN e.name = {scope.param(spec.event)} THEN 1 ELSE 0 END" if spec.event else "1"
        )
        is_r = (
            f"CASE WHEN e.name = {scope.param(returning)} THEN 1 ELSE 0 END" if returning else "1"
        )
        conds = [
            f"e.project_id = {scope.param(scope.project_id)}",
            f"e.timestamp >= {scope.param(scope.period.start_param)}",
            f"e.timestamp < {scope.param(scope.period.end_param)}",
        ]
        if spec.event:  # the cohort and the returning event are the only events read
            names = sorted({spec.event, returning or spec.event})
            conds.append(f"e.name IN ({', '.join(scope.param(n) for n in names)})")
        return (
            f"pts AS (SELECT {raw} AS ruid, e.timestamp AS ts, {is_c} AS is_c, {is_r} AS is_r\n"
            f"  FROM events e WHERE {' AND '.join(conds)}{after()})"
        )
    parts = []
    for col in ("first_ts",) if table.utc else ("first_ts", "last_ts"):
        conds = [
            f"a.project_id = {scope.param(scope.project_id)}",
            f"a.day >= {scope.param(table.first)}",
            f"a.day < {scope.param(table.last)}",
        ]
        if table.skip:
            conds.append(f"a.day NOT IN ({', '.join(scope.param(d) for d in table.skip)})")
        if since:
            conds.append(f"a.day >= {scope.param(since.date())}")
        parts.append(
            f"SELECT a.uid AS ruid, a.{col} AS ts, 1 AS is_c, 1 AS is_r FROM {ACTIVITY_TABLE} a\n"
            f"    WHERE {' AND '.join(conds)}"
        )
    # the events the table does not hold: each stretch a plain time range, so that the
    # store's per-block min/max of timestamp (and of received_at) skip the rest
    start, end = scope.period.start_param, scope.period.end_param
    stretches = [(start, _midnight(table.first)), (_midnight(table.last), end)]
    stretches += [(_midnight(d), _midnight(d + timedelta(days=1))) for d in table.skip]
    for low, high in stretches:
        if low < high:
            parts.append(
                f"SELECT {raw} AS ruid, e.timestamp AS ts, 1 AS is_c, 1 AS is_r FROM events e\n"
                f"    WHERE e.project_id = {scope.param(scope.project_id)}"
                f" AND e.timestamp >= {scope.param(low)} AND e.timestamp < {scope.param(high)}"
                f"{after()}"
            )
    parts.append(
        f"SELECT {raw} AS ruid, e.timestamp AS ts, 1 AS is_c, 1 AS is_r FROM events e\n"
        f"    WHERE e.project_id = {scope.param(scope.project_id)}"
        f" AND e.received_at >= {scope.param(table.mark)}"
        f" AND e.timestamp >= {scope.param(_midnight(table.first))}"
        f" AND e.timestamp < {scope.param(_midnight(table.last))}{after()}"
    )
    return "pts AS (\n  " + "\n  UNION ALL\n  ".join(parts) + "\n)"


def _idm(scope: Scope) -> str:
    """``idm``: the project's identity map."""
    return (
        "idm AS (SELECT im.previous_id AS previous_id, im.user_id AS user_id"
        f" FROM {scope.dialect.identities} im\n"
        f"  WHERE im.project_id = {scope.param(scope.project_id)})"
    )


def _eligible_scanned(
    scope: Scope, spec: RetentionSpec, bounds: list[datetime], table: ActivityDays | None
) -> list[str]:
    """``eligible`` (and ``idm``) from the points: each raw user id's first cohort event;
    users resolved through the identity map only where the map can change something (the
    ids it maps, and the ids it maps to)."""
    F = scope.dialect
    ctes = [_points(scope, spec, table)]  # parameters are positional: in the text's order
    anyone = spec.event is None and spec.returning_event is None
    first = "min(ts)" if anyone else F.min_if("ts", "is_c = 1")
    ctes.append(f"fr AS (SELECT ruid, {first} AS first_ts FROM pts GROUP BY ruid)")
    if scope.identities:
        ctes += [
            _idm(scope),
            # every id the map mentions, so that each user is tested once (not twice)
            "ids AS (SELECT previous_id AS id FROM idm UNION ALL SELECT user_id FROM idm)",
            f"firsts AS {F.materialized}(\n"
            "  SELECT ruid AS uid, first_ts FROM fr WHERE ruid IS NULL\n"
            "    OR ruid NOT IN (SELECT id FROM ids)\n"
            "  UNION ALL\n"
            f"  SELECT coalesce({F.joined_user('i.user_id')}, f.ruid) AS uid,"
            " min(f.first_ts) AS first_ts\n"
            "  FROM fr f LEFT JOIN idm i ON i.previous_id = f.ruid\n"
            "  WHERE f.ruid IN (SELECT id FROM ids)\n"
            f"  GROUP BY coalesce({F.joined_user('i.user_id')}, f.ruid))",
        ]
    else:
        ctes.append(f"firsts AS {F.materialized}(SELECT ruid AS uid, first_ts FROM fr)")
    ctes.append(
        "eligible AS (SELECT uid, first_ts FROM firsts\n"
        f"  WHERE first_ts >= {scope.param(bounds[0])})"
    )
    return ctes


def _eligible_stored(
    scope: Scope,
    spec: RetentionSpec,
    bounds: list[datetime],
    table: ActivityDays | None,
    mark: datetime,
) -> list[str]:
    """``eligible`` (and ``idm``) from the store's first-seen table (``user_first``, one row
    per raw user id, holding the events received before its watermark ``mark``), without
    aggregating every user:

    * a row passes as it is unless the id needs more: the ids the identity map mentions,
      and those with events received since ``mark`` (``recent``);
    * those are aggregated with their recent events and resolved, as in the scan;
    * ids first seen before the period (``old``: the table holds every id's first event,
      the period looks back only so far) take their first time in the period from the
      points. Usually there are none, and an empty join skips reading the points.
    """
    F = scope.dialect
    p = scope.param
    start, end = scope.period.start_param, scope.period.end_param
    ctes = [
        "recent AS (SELECT coalesce(e.user_id, e.anonymous_id) AS ruid, e.timestamp AS ts"
        f" FROM events e\n  WHERE e.project_id = {p(scope.project_id)}"
        f" AND e.received_at >= {p(mark)} AND e.timestamp >= {p(start)}"
        f" AND e.timestamp < {p(end)})",
        f"old AS (SELECT uid FROM {FIRST_TABLE}\n"
        f"  WHERE project_id = {p(scope.project_id)} AND first_ts < {p(start)})",
        _points(scope, spec, table),
    ]
    ids = "SELECT ruid AS id FROM recent WHERE ruid IS NOT NULL"
    user, join = "f.ruid", ""
    if scope.identities:
        ctes.append(_idm(scope))
        ids = f"SELECT previous_id AS id FROM idm UNION ALL SELECT user_id FROM idm UNION ALL {ids}"
        user = f"coalesce({F.joined_user('i.user_id')}, f.ruid)"
        join = " LEFT JOIN idm i ON i.previous_id = f.ruid"
    ctes += [
        f"ids AS ({ids})",
        # parameters in the text's order: each bound where it appears
        f"eligible AS {F.materialized}(\n"
        f"  SELECT uid, first_ts FROM {FIRST_TABLE} WHERE project_id = {p(scope.project_id)}\n"
        f"    AND first_ts >= {p(bounds[0])} AND first_ts < {p(end)}\n"
        "    AND uid IS NOT NULL AND uid NOT IN (SELECT id FROM ids)\n"
        "  UNION ALL\n"
        f"  SELECT uid, first_ts FROM (SELECT {user} AS uid, min(f.ts) AS first_ts FROM (\n"
        f"    SELECT uid AS ruid, first_ts AS ts FROM {FIRST_TABLE}"
        f" WHERE project_id = {p(scope.project_id)}\n"
        f"      AND first_ts >= {p(start)} AND first_ts < {p(end)}\n"
        "      AND (uid IS NULL OR uid IN (SELECT id FROM ids))\n"
        "    UNION ALL SELECT ruid, ts FROM recent\n"
        "    UNION ALL\n"
        "    SELECT q.ruid, q.ts FROM pts q JOIN old o ON o.uid IS NOT DISTINCT FROM q.ruid\n"
        f"  ) f{join} GROUP BY {user}) g\n"
        f"  WHERE first_ts >= {p(bounds[0])})",
    ]
    return ctes


def retention_sql(
    scope: Scope,
    spec: RetentionSpec,
    bounds: list[datetime],
    table: ActivityDays | None = None,
    first_mark: datetime | None = None,
) -> str:
    """One row per non-empty cohort ``c`` (its index): its size and, for each period ``j``,
    ``a{j}``, how many of its users came back in period ``j`` (offset ``j - c``).

    ``bounds``: the periods' starts as naive UTC instants, and the end of the last;
    ``first_mark``: the watermark of the store's first-seen table, when it may be read
    (any event counts). Two passes, so that no aggregation over every user (~1M at 10M
    events) carries more than one aggregate:

    * the eligible users, each with their first cohort event (``_eligible_stored`` or
      ``_eligible_scanned``), and the first ``USER_CAP`` of them (``chosen``);
    * the periods of the returning events of the chosen users only (a comparison with the
      bounds, no time-zone conversion per row), over the points from the first cohort's
      start: the points of the chosen users' raw ids, found by a join on those ids (the
      chosen ids, and the ids the identity map resolves to them).
    """
    F = scope.dialect
    n = len(bounds) - 1
    came = "" if spec.event is None and spec.returning_event is None else "is_r = 1 AND "
    if first_mark is None:
        ctes = _eligible_scanned(scope, spec, bounds, table)
    else:
        ctes = _eligible_stored(scope, spec, bounds, table, first_mark)
    cohort = " ".join(
        f"WHEN first_ts < {scope.param(bounds[j + 1])} THEN {j}" for j in range(n - 1)
    )
    cohort = f"CASE {cohort} ELSE {n - 1} END" if n > 1 else "0"
    ctes += [
        # the cap's last first-seen time, so that only the users up to it are sorted
        "cut AS (SELECT max(first_ts) AS t FROM (SELECT first_ts FROM eligible\n"
        f"  ORDER BY first_ts LIMIT {USER_CAP}) x)",
        # a row number rather than LIMIT, which DuckDB 2.0.0 may drop (see query/funnels.py)
        f"chosen AS {F.materialized}(SELECT {cohort} AS c, uid FROM (SELECT uid, first_ts,\n"
        "    row_number() OVER (ORDER BY first_ts, uid) AS pos FROM eligible\n"
        f"    WHERE first_ts <= (SELECT t FROM cut)) r\n  WHERE pos <= {USER_CAP})",
    ]
    # the points again, spelled out rather than shared: a shared CTE would be materialized,
    # which costs more than reading the points twice
    ctes.append(_points(scope, spec, table, since=bounds[0]).replace("pts AS", "pts2 AS", 1))
    flags = ", ".join(
        f"max(CASE WHEN {came}ts >= {scope.param(bounds[j])} AND ts < {scope.param(bounds[j + 1])}"
        f" THEN 1 ELSE 0 END) AS a{j}"
        for j in range(n)
    )
    # a NULL raw id is one user that never counts as returning (no row here)
    if scope.identities:
        ctes += [
            # a chosen user's raw ids: its own, unless the map resolves it to another user,
            # and those the map resolves to it (joined before any aggregation: one small
            # build side rather than resolving every point)
            "rc AS (SELECT uid AS ruid, uid FROM chosen\n"
            "    WHERE uid NOT IN (SELECT previous_id FROM idm)\n"
            "  UNION ALL\n"
            "  SELECT i.previous_id, i.user_id FROM idm i\n"
            "    WHERE i.user_id IN (SELECT uid FROM chosen))",
            f"back AS (SELECT r.uid AS uid, {flags}\n"
            "  FROM pts2 p JOIN rc r ON r.ruid = p.ruid GROUP BY r.uid)",
        ]
    else:
        ctes.append(
            f"back AS (SELECT p.ruid AS uid, {flags}\n"
            "  FROM pts2 p WHERE p.ruid IN (SELECT uid FROM chosen) GROUP BY p.ruid)"
        )
    sums = ", ".join(f"sum(coalesce(b.a{j}, 0)) AS a{j}" for j in range(n))
    return (
        "WITH " + ",\n".join(ctes) + f"\nSELECT ch.c AS c, count(*) AS users, {sums},"
        " (SELECT count(*) FROM eligible) AS total\n"
        "FROM chosen ch LEFT JOIN back b ON b.uid = ch.uid GROUP BY ch.c ORDER BY c"
    )


def reads_activity(engine: QueryEngine) -> bool:
    """Whether the engine may read the store's activity and first-seen tables (the
    embedded store keeps them; the engine's ``rollups=False`` reads only the events)."""
    return engine.rollups and bool(getattr(engine.store, "activity_days", False))


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
    table = first_mark = None
    if spec.event is None and spec.returning_event is None and reads_activity(engine):
        marks = dict(
            engine.store.query(
                "SELECT name, watermark FROM rollup_state WHERE name IN (?, ?)",
                [ACTIVITY_TABLE, FIRST_TABLE],
            ).rows
        )
        table = activity_days(scope, marks[ACTIVITY_TABLE])
        first_mark = marks[FIRST_TABLE]
    bounds = [
        _step(starts[0], spec.period, j).replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
        for j in range(spec.cohorts + 1)
    ]
    rows = {
        int(r["c"]): r
        for r in engine.fetch(scope, retention_sql(scope, spec, bounds, table, first_mark))
    }
    total = next((int(r["total"]) for r in rows.values()), 0)
    sizes: list[int] = []
    kept: list[list[int]] = []
    for i in range(len(starts)):
        row = rows.get(i)
        users = int(row["users"]) if row else 0
        # offsets that have begun by ``end``; offset 0 is the cohort itself
        retained = [int(row[f"a{i + k}"] or 0) if row else 0 for k in range(spec.cohorts - i)]
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
