"""Per-dialect SQL: each difference between engines is one entry in a table, not a branch.

The query builders only ever call these functions to spell engine-specific SQL; everything
else they emit is the SQL that DuckDB and ClickHouse share. Timestamps are stored as UTC
(DuckDB ``TIMESTAMP``, ClickHouse ``DateTime64(3, 'UTC')``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

Unit = str  # "hour" | "day" | "week" | "month"


@dataclass(frozen=True)
class Dialect:
    name: str
    #: a UTC timestamp column as wall-clock time in an IANA zone (a checked, quoted literal)
    local_time: Callable[[str, str], str]
    #: truncate a (local) timestamp to the start of a unit
    trunc: Callable[[Unit, str], str]
    #: one top-level key of the JSON ``properties`` text, as a string (the key is checked)
    prop: Callable[[str, str], str]
    #: milliseconds since the epoch of a timestamp
    epoch_ms: Callable[[str], str]
    #: exact distinct count; approximate (mergeable sketch) distinct count
    count_distinct: Callable[[str], str]
    approx_distinct: Callable[[str], str]
    #: true when every row's condition is true
    all_true: Callable[[str], str]
    #: a quantile (0..1) of a numeric expression
    quantile: Callable[[str, float], str]
    #: string to float, NULL when not a number
    to_number: Callable[[str], str]
    #: case-insensitive substring test (the needle is a ? parameter)
    contains: Callable[[str], str]
    #: the value of a column on the row before in the named window (NULL for the first row)
    lag: Callable[[str, str], str]
    #: a running sum over the named window, from the first row to this one
    running_sum: Callable[[str, str], str]
    #: render a (local) timestamp bucket as text
    format_bucket: Callable[[Unit, str], str]
    #: day of week 0=Monday..6=Sunday, and hour 0..23
    weekday: Callable[[str], str]
    hour: Callable[[str], str]
    #: the value of ``expr`` on the row where ``by`` is largest / smallest
    arg_max: Callable[[str, str], str]
    arg_min: Callable[[str, str], str]
    #: the same, over only the rows where a condition holds (NULL when none does)
    arg_max_if: Callable[[str, str, str], str]
    arg_min_if: Callable[[str, str, str], str]
    #: cast to text
    to_text: Callable[[str], str]
    #: rows where a condition holds
    count_if: Callable[[str], str]
    #: the identity map as a relation (project_id, previous_id, user_id), one row per previous_id
    identities: str
    #: an identity-map user id that may be missing after a LEFT JOIN, as NULL
    joined_user: Callable[[str], str]
    #: the smallest value over rows where a condition holds, NULL when none does (an
    #: aggregate, also valid before ``OVER (...)``; funnels chain these over a window frame)
    min_if: Callable[[str, str], str]
    #: a text expression starts with the ? parameter (funnel wildcard matches)
    starts_with: Callable[[str], str]
    #: whole units between two truncated (local) timestamps, b - a
    unit_diff: Callable[[Unit, str, str], str]
    #: per-user aggregates r0..r(n-1): 1 when some row has offset ``k`` = j (r0 is always 1)
    retention_flags: Callable[[str, int], list[str]]
    #: local time as UTC plus the zone's offset, given as spans [(offset seconds, until UTC
    #: (naive) or None for the last)]; engines whose time-zone conversion costs more than a
    #: whole query set this, and the builder passes the offsets in force over the period
    shift_local: Callable[[str, Sequence[tuple[int, datetime | None]]], str] | None = None
    #: the keyword that makes a CTE read several times be computed once ("" where the engine
    #: decides alone)
    materialized: str = ""
    #: a cheap test that the JSON ``properties`` text may hold a top-level key (the key, in
    #: quotes, appears in it; our encoder never escapes a valid key): a prefilter that spares
    #: parsing the JSON of events that cannot match; None to always parse
    may_have_key: Callable[[str, str], str] | None = None
    #: the sum of an expression over rows where a condition holds (NULL when none)
    sum_if: Callable[[str, str], str] = lambda expr, cond: f"sum({expr}) FILTER (WHERE {cond})"


_DUCK_FORMAT = {"hour": "%Y-%m-%dT%H:00", "day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m"}

DUCKDB = Dialect(
    name="duckdb",
    local_time=lambda col, tz: f"timezone('{tz}', {col} AT TIME ZONE 'UTC')",
    trunc=lambda unit, expr: f"date_trunc('{unit}', {expr})",
    prop=lambda col, key: f"json_extract_string({col}, '$.\"{key}\"')",
    # stored timestamps are whole milliseconds (events carry unix ms), so this is
    # ``epoch_ms``, which costs ~3x as much (12 vs 4 ms over 424k session fragments)
    epoch_ms=lambda expr: f"(epoch_us({expr}) // 1000)",
    count_distinct=lambda expr: f"count(DISTINCT {expr})",
    approx_distinct=lambda expr: f"approx_count_distinct({expr})",
    all_true=lambda cond: f"bool_and({cond})",
    quantile=lambda expr, q: f"quantile_cont({expr}, {q})",
    to_number=lambda expr: f"TRY_CAST({expr} AS DOUBLE)",
    contains=lambda expr: f"contains(lower({expr}), lower(?))",
    lag=lambda expr, window: f"lag({expr}) OVER {window}",
    running_sum=lambda expr, window: f"sum({expr}) OVER {window}",
    format_bucket=lambda unit, expr: f"strftime({expr}, '{_DUCK_FORMAT[unit]}')",
    weekday=lambda expr: f"(isodow({expr}) - 1)",
    hour=lambda expr: f"hour({expr})",
    arg_max=lambda expr, by: f"arg_max({expr}, {by})",
    arg_min=lambda expr, by: f"arg_min({expr}, {by})",
    arg_max_if=lambda expr, by, cond: f"arg_max({expr}, {by}) FILTER (WHERE {cond})",
    arg_min_if=lambda expr, by, cond: f"arg_min({expr}, {by}) FILTER (WHERE {cond})",
    to_text=lambda expr: f"CAST({expr} AS VARCHAR)",
    count_if=lambda cond: f"count(*) FILTER (WHERE {cond})",
    identities="identities",
    joined_user=lambda col: col,
    min_if=lambda expr, cond: f"min({expr}) FILTER (WHERE {cond})",
    starts_with=lambda expr: f"starts_with({expr}, ?)",
    unit_diff=lambda unit, a, b: f"date_diff('{unit}', {a}, {b})",
    retention_flags=lambda k, n: [
        "1",
        *(f"max(CASE WHEN {k} = {j} THEN 1 ELSE 0 END)" for j in range(1, n)),
    ],
)

_CH_TRUNC = {
    "hour": "toStartOfHour",
    "day": "toStartOfDay",
    "week": "toMonday",
    "month": "toStartOfMonth",
}
_CH_FORMAT = {"hour": "%Y-%m-%dT%H:00", "day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m"}


def _ch_retention(k: str, n: int) -> list[str]:
    # retention(c0, c1, …)[j+1] is 1 when c0 held on some row and cj held on some row
    conds = ", ".join(["toUInt8(1)", *(f"{k} = {j}" for j in range(1, n))])
    return [f"arrayElement(retention({conds}), {j + 1})" for j in range(n)]


def _ch_prop(col: str, key: str) -> str:
    # As DuckDB: NULL for a missing key or JSON null, the string for a string, raw text for
    # anything else. The document is parsed once: the same JSONExtractRaw call is computed
    # once per row (common subexpression), and only a string value is parsed again.
    raw = f"JSONExtractRaw({col}, '{key}')"
    return (
        f"multiIf({raw} IN ('', 'null'), NULL, "
        f"startsWith({raw}, '\"'), JSONExtractString({raw}), {raw})"
    )


CLICKHOUSE = Dialect(
    name="clickhouse",
    sum_if=lambda expr, cond: f"sumIfOrNull({expr}, {cond})",
    local_time=lambda col, tz: f"toTimeZone({col}, '{tz}')",
    trunc=lambda unit, expr: f"{_CH_TRUNC[unit]}({expr})",
    prop=_ch_prop,
    epoch_ms=lambda expr: f"toUnixTimestamp64Milli(toDateTime64({expr}, 3))",
    count_distinct=lambda expr: f"uniqExact({expr})",
    approx_distinct=lambda expr: f"uniq({expr})",
    all_true=lambda cond: f"toBool(min({cond}))",
    quantile=lambda expr, q: f"quantile({q})({expr})",
    to_number=lambda expr: f"toFloat64OrNull(toString({expr}))",
    contains=lambda expr: f"positionCaseInsensitiveUTF8({expr}, ?) > 0",
    lag=lambda expr, window: f"lagInFrame({expr}) OVER {window}",
    running_sum=lambda expr, window: f"sum({expr}) OVER {window}",
    format_bucket=lambda unit, expr: f"formatDateTime({expr}, '{_CH_FORMAT[unit]}')",
    weekday=lambda expr: f"(toDayOfWeek({expr}) - 1)",
    hour=lambda expr: f"toHour({expr})",
    arg_max=lambda expr, by: f"argMax({expr}, {by})",
    arg_min=lambda expr, by: f"argMin({expr}, {by})",
    arg_max_if=lambda expr, by, cond: f"argMaxIf({expr}, {by}, {cond})",
    arg_min_if=lambda expr, by, cond: f"argMinIf({expr}, {by}, {cond})",
    to_text=lambda expr: f"toString({expr})",
    count_if=lambda cond: f"countIf({cond})",
    identities=(
        "(SELECT project_id, previous_id, argMax(user_id, created_at) AS user_id "
        "FROM identities GROUP BY project_id, previous_id)"
    ),
    # without join_use_nulls a missing right-hand row reads as ''
    joined_user=lambda col: f"nullIf({col}, '')",
    # the OrNull combinator: plain minIf answers the type's default (1970) when nothing matched
    min_if=lambda expr, cond: f"minIfOrNull({expr}, {cond})",
    starts_with=lambda expr: f"startsWith({expr}, ?)",
    unit_diff=lambda unit, a, b: f"dateDiff('{unit}', {a}, {b})",
    retention_flags=lambda k, n: _ch_retention(k, n),
    may_have_key=lambda col, key: f"position({col}, '\"{key}\"') > 0",
    # without it a CTE is computed again for every reference (the store turns the feature
    # on, or drops the keyword where the server lacks it)
    materialized="MATERIALIZED ",
)


def _duck_shift(col: str, spans: Sequence[tuple[int, datetime | None]]) -> str:
    if len(spans) == 1:
        return col if spans[0][0] == 0 else f"({col} + to_seconds({spans[0][0]}))"
    whens = " ".join(
        f"WHEN {col} < TIMESTAMP '{until.isoformat(sep=' ')}' THEN {offset}"
        for offset, until in spans[:-1]
        if until is not None
    )
    return f"({col} + to_seconds(CASE {whens} ELSE {spans[-1][0]} END))"


DUCKDB = replace(
    DUCKDB,
    shift_local=_duck_shift,
    materialized="MATERIALIZED ",
    may_have_key=lambda col, key: f"contains({col}, '\"{key}\"')",
)

DIALECTS = {d.name: d for d in (DUCKDB, CLICKHOUSE)}


def dialect_for(name: str) -> Dialect:
    return DIALECTS[name]
