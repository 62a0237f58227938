"""A probe of the SQL batch path (docs/dev/sql-batch-ingest.md): the pipeline's per-event
checks and stored values as one DuckDB statement over many ``/track/batch`` bodies, timed.

    .venv/bin/python -m bench.sql_shape [--repeat 5]

The statement is the design note's step 2, built out far enough to answer its question: it
reads every field of the native event, types it (``json_type``), checks what the typed decode
and the pipeline check (lengths, the name, the properties' count and size, the timestamp's
kinds, the MCP fields), and makes every stored column as ``ingest/columnar.py`` does,
calling ``pipeline.page`` (the URL's host, path and UTM, the referrer's host) once per
distinct URL, path and referrer of the statement. An event it cannot be sure of is marked
``declined`` (its request would go through the Python path), so it never has to word an
error. On the load generator's bodies its rows equal ``columnar.native_rows``' (checked each
run, event ids aside).

What it measures: the statement's CPU per call, for 1 to 200 requests of 100 events, split
into the fixed part (planning: parse, bind, optimize; DuckDB plans a statement of this width
in ~25-45 ms, ~40 µs per expression, prepared or not) and the part per event, against the
Python path's decode, rows and Arrow table (``bench.ingest_floor``'s stages) on the same
bodies. Results: docs/performance.md, "Eighth round" under Ingest.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import duckdb
import pyarrow as pa

from agentlytics.ingest import columnar, enrich
from agentlytics.ingest.formats import native
from agentlytics.ingest.pipeline import (
    FUTURE_SKEW_MS,
    MAX_EVENT_ID,
    MAX_ID,
    MAX_MCP_PAYLOAD,
    MAX_NAME,
    MAX_TEXT,
    MCP_FIELDS,
    MIN_TIMESTAMP_MS,
    PROMOTED_PROPERTIES,
    environment,
    page,
)
from agentlytics.storage.arrow import EVENT_SCHEMA, rows_table
from bench.ingest_floor import project_and_bodies, server_context

#: the fields of an event the statement reads, each as its JSON text (typed in SQL)
_FIELDS = (
    "event",
    "properties",
    "timestamp",
    "id",
    "user_id",
    "anonymous_id",
    "session_id",
    "user_email",
    "user_name",
    "page_origin",
    *MCP_FIELDS,
)
_SHAPE = json.dumps({"events": [dict.fromkeys(_FIELDS, "JSON")]})

#: what a request's events share, one row per request, then its body (``columnar._Shared``)
REQUEST_SCHEMA = pa.schema(
    [
        ("r", pa.int32()),
        ("project_id", pa.string()),
        ("received_at", pa.int64()),
        ("source", pa.string()),
        ("browser", pa.string()),
        ("os", pa.string()),
        ("device", pa.string()),
        ("country", pa.string()),  # a browser event's
        ("country_other", pa.string()),  # the others' (when the CDN sends one)
        ("visitor", pa.string()),
        ("environment", pa.string()),
        ("origin", pa.string()),
        ("body", pa.string()),
    ]
)

# -- the statement ------------------------------------------------------------------------

_MCP_NULL = "|".join(MCP_FIELDS)


def _clip(field: str, limit: int) -> str:
    """``pipeline.clip`` of a JSON field: text cut to ``limit`` (empty: NULL), a whole
    number as its digits, an object or array NULL; anything else declines (``declines``)."""
    return (
        f"CASE t_{field} WHEN 'VARCHAR' THEN nullif(substring(s_{field}, 1, {limit}), '') "
        f"WHEN 'BIGINT' THEN s_{field}::HUGEINT::VARCHAR "
        f"WHEN 'UBIGINT' THEN s_{field}::HUGEINT::VARCHAR END"
    )


def _clip_ok(field: str) -> str:
    return (
        f"(t_{field} IS NULL OR t_{field} IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'OBJECT', 'ARRAY'))"
    )


def _text_ok(field: str, limit: int) -> str:
    """A field the typed decode takes as text of at most ``limit`` characters."""
    return f"(t_{field} IS NULL OR (t_{field} = 'VARCHAR' AND length(s_{field}) <= {limit}))"


_PROMOTED_PATHS = "[" + ", ".join(f"'$.\"{k}\"'" for k in PROMOTED_PROPERTIES) + "]"


def _promoted(i: int) -> str:
    """``pipeline.promoted`` of the ``i``-th promoted property (``p[i]``): text up to
    ``MAX_TEXT`` (longer declines), a whole number's digits, NULL for an object or array."""
    return (
        f"CASE pt[{i}] WHEN 'VARCHAR' THEN nullif(ps[{i}], '') "
        f"WHEN 'BIGINT' THEN ps[{i}]::HUGEINT::VARCHAR "
        f"WHEN 'UBIGINT' THEN ps[{i}]::HUGEINT::VARCHAR END"
    )


def _promoted_ok(i: int) -> str:
    return (
        f"(pt[{i}] IS NULL OR pt[{i}] IN ('BIGINT', 'UBIGINT', 'OBJECT', 'ARRAY') OR "
        f"(pt[{i}] = 'VARCHAR' AND length(ps[{i}]) <= {MAX_TEXT}))"
    )


_PROMOTED_AT = {k: i + 1 for i, k in enumerate(PROMOTED_PROPERTIES)}


def declines(max_properties: int, max_properties_bytes: int) -> list[str]:
    """What makes the statement decline an event, each a condition on its typed fields."""
    return [
        # the name: text, not empty, no white space (or other than ASCII) at either end
        "t_event IS DISTINCT FROM 'VARCHAR'",
        f"length(s_event) > {MAX_NAME}",
        "NOT regexp_full_match(s_event, '(?s)[!-~](.*[!-~])?')",
        "(t_properties IS NOT NULL AND t_properties <> 'OBJECT')",
        f"coalesce(len(keys), 0) > {max_properties}",
        "coalesce(len(keys) <> len(list_distinct(keys)), false)",
        f"strlen(props) > {max_properties_bytes}",
        *[f"NOT {_promoted_ok(i)}" for i in _PROMOTED_AT.values()],
        # a timestamp: none, "", or a number of ms or s (``parse_timestamp``); no text
        "NOT (t_timestamp IS NULL OR (t_timestamp = 'VARCHAR' AND s_timestamp = '')"
        " OR t_timestamp IN ('BIGINT', 'UBIGINT') OR (t_timestamp = 'DOUBLE' AND"
        " abs(s_timestamp::DOUBLE) < 1e15))",
        f"coalesce(ms < {MIN_TIMESTAMP_MS}, false)",
        f"NOT {_text_ok('id', MAX_EVENT_ID)}",
        *[f"NOT {_text_ok(f, MAX_ID)}" for f in ("user_id", "anonymous_id", "session_id")],
        "NOT (t_page_origin IS NULL OR t_page_origin = 'VARCHAR')",
        *[
            f"NOT {_clip_ok(f)}"
            for f in ("user_email", "user_name", "mcp_session_id", "primitive_name")
        ],
        *[f"NOT {_clip_ok(f)}" for f in ("error", "args", "result", "client")],
        "NOT (t_primitive_type IS NULL OR (t_primitive_type = 'VARCHAR' AND"
        " s_primitive_type IN ('tool', 'resource', 'prompt')))",
        "NOT (t_latency_ms IS NULL OR t_latency_ms IN ('BIGINT', 'UBIGINT', 'DOUBLE'))",
        "NOT (t_success IS NULL OR t_success = 'BOOLEAN')",
    ]


def _statement(max_properties: int, max_properties_bytes: int) -> str:
    promoted = _PROMOTED_AT
    fields = ", ".join(f"e.{f}" for f in _FIELDS)
    typed = ",\n    ".join(f"t[{i}] AS t_{f}, s[{i}] AS s_{f}" for i, f in enumerate(_FIELDS, 1))
    mcp_present = " OR ".join(f"t_{f} IS NOT NULL" for f in MCP_FIELDS)
    declined = " OR ".join(declines(max_properties, max_properties_bytes))
    utm = {k: promoted[k] for k in enrich.UTM_KEYS}
    return f"""
WITH bodies AS (
  SELECT q.* EXCLUDE (body), from_json(body, '{_SHAPE}').events AS evs,
    regexp_matches(body, '"({_MCP_NULL})"\\s*:\\s*null|\\\\[uU][dD][89a-fA-F]') AS odd
  FROM _requests q
), events AS (
  SELECT * EXCLUDE (evs), unnest(range(len(evs))) AS i, unnest(evs) AS e FROM bodies
), listed AS (
  -- each JSON function once, over lists (it plans no faster than a call per field did)
  SELECT * EXCLUDE (e, f, pv),
    list_transform(f, lambda x: json_type(x)) AS t, list_transform(f, lambda x: x->>'$') AS s,
    list_transform(pv, lambda x: json_type(x)) AS pt, list_transform(pv, lambda x: x->>'$') AS ps
  FROM (
    SELECT *, [{fields}] AS f,
      CASE WHEN e.properties IS NULL THEN '{{}}' ELSE e.properties::VARCHAR END AS props,
      json_keys(e.properties) AS keys,
      json_extract(e.properties, {_PROMOTED_PATHS}) AS pv
    FROM events)
), typed AS (
  SELECT * EXCLUDE (t, s),
    {typed}
  FROM listed
), valued AS MATERIALIZED (
  SELECT *,
    CASE
      WHEN t_timestamp IN ('BIGINT', 'UBIGINT') THEN
        CASE WHEN abs(s_timestamp::HUGEINT) < 100000000000
        THEN s_timestamp::HUGEINT * 1000 ELSE s_timestamp::HUGEINT END
      WHEN t_timestamp = 'DOUBLE' AND abs(s_timestamp::DOUBLE) < 1e15 THEN
        CASE WHEN abs(s_timestamp::DOUBLE) < 1e11 THEN trunc(s_timestamp::DOUBLE * 1000)
        ELSE trunc(s_timestamp::DOUBLE) END::BIGINT
    END AS ms,
    {mcp_present} AS mcp,
    CASE WHEN {mcp_present} THEN 'mcp' ELSE source END AS event_source,
    {", ".join(f"{_promoted(i)} AS p_{k}" for k, i in promoted.items())}
  FROM typed
), pages AS (
  SELECT p_url, p_path, p_referrer, agl_page(p_url, p_path, p_referrer) AS pg
  FROM (SELECT DISTINCT p_url, p_path, p_referrer FROM valued)
), shaped AS (
  SELECT v.*, g.pg
  FROM valued v
  JOIN pages g ON v.p_url IS NOT DISTINCT FROM g.p_url AND v.p_path IS NOT DISTINCT FROM g.p_path
    AND v.p_referrer IS NOT DISTINCT FROM g.p_referrer
)
SELECT r, odd OR {declined} AS declined,
  project_id,
  coalesce(nullif(s_id, ''), uuidv7()::VARCHAR) AS event_id,
  s_event AS name,
  epoch_ms(CASE WHEN ms IS NULL THEN received_at
    ELSE greatest(least(ms, received_at + {FUTURE_SKEW_MS}), 0)::BIGINT END) AS "timestamp",
  epoch_ms(received_at) AS received_at,
  nullif(s_user_id, '') AS user_id,
  coalesce(nullif(s_anonymous_id, ''), CASE WHEN nullif(s_user_id, '') IS NULL THEN visitor END)
    AS anonymous_id,
  nullif(s_session_id, '') AS session_id,
  {_clip("user_email", 200)} AS user_email,
  {_clip("user_name", 200)} AS user_name,
  p_url AS url, pg.host AS host, pg.path AS path, p_title AS title, p_referrer AS referrer,
  pg.referrer_host AS referrer_host,
  {", ".join(f"coalesce(p_{k}, pg.{k}) AS {k}" for k in utm)},
  CASE WHEN event_source = 'browser' THEN country ELSE country_other END AS country,
  CASE WHEN event_source = 'browser' THEN browser END AS browser,
  CASE WHEN event_source = 'browser' THEN os END AS os,
  CASE WHEN event_source = 'browser' THEN device END AS device,
  p_language AS language, p_screen AS screen, p_timezone AS timezone,
  CASE WHEN t_page_origin IS NULL THEN environment ELSE agl_environment(s_page_origin, origin)
    END AS environment,
  event_source AS source,
  CASE WHEN mcp THEN {_clip("mcp_session_id", MAX_ID)} END AS mcp_session_id,
  CASE WHEN mcp THEN s_primitive_type END AS primitive_type,
  CASE WHEN mcp THEN {_clip("primitive_name", MAX_NAME)} END AS primitive_name,
  CASE WHEN mcp AND t_latency_ms IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN s_latency_ms::DOUBLE END
    AS latency_ms,
  CASE WHEN mcp AND t_success = 'BOOLEAN' THEN s_success::BOOLEAN END AS success,
  CASE WHEN mcp THEN {_clip("error", MAX_TEXT)} END AS error,
  CASE WHEN mcp THEN {_clip("args", MAX_MCP_PAYLOAD)} END AS args,
  CASE WHEN mcp THEN {_clip("result", MAX_MCP_PAYLOAD)} END AS result,
  CASE WHEN mcp THEN {_clip("client", MAX_NAME)} END AS client,
  props AS properties
FROM shaped
ORDER BY r, i
"""


_PAGE_TYPE = duckdb.struct_type(
    {k: duckdb.sqltype("VARCHAR") for k in ("host", "path", "referrer_host", *enrich.UTM_KEYS)}
)


def _page(url: str | None, path: str | None, referrer: str | None) -> dict[str, Any]:
    host, clean, _utm, referrer_host, utm_row = page(url, path, referrer)
    return {
        "host": host,
        "path": clean,
        "referrer_host": referrer_host,
        **dict(zip(enrich.UTM_KEYS, utm_row, strict=True)),
    }


def _environment(page_origin: str, origin: str | None) -> str:
    return environment(None, page_origin, origin)


def connect(max_properties: int, max_properties_bytes: int) -> tuple[Any, str]:
    """An in-memory DuckDB with the statement's functions, and the statement."""
    con = duckdb.connect(config={"threads": 1})
    varchar = duckdb.sqltype("VARCHAR")
    con.create_function(
        "agl_page",
        _page,
        [varchar, varchar, varchar],
        _PAGE_TYPE,
        null_handling="special",
        side_effects=False,
    )
    con.create_function(
        "agl_environment",
        _environment,
        [varchar, varchar],
        varchar,
        null_handling="special",
        side_effects=False,
    )
    return con, _statement(max_properties, max_properties_bytes)


def request_table(context: tuple[Any, ...], bodies: list[str]) -> pa.Table:
    n = len(bodies)
    fields = list(REQUEST_SCHEMA)[1:-1]
    return pa.Table.from_arrays(
        [
            pa.array(range(n), pa.int32()),
            *[pa.array([value] * n, f.type) for value, f in zip(context, fields, strict=True)],
            pa.array(bodies, pa.string()),
        ],
        schema=REQUEST_SCHEMA,
    )


def shape(con: Any, sql: str, requests: pa.Table) -> pa.Table:
    con.register("_requests", requests)
    try:
        return con.sql(sql).to_arrow_table()  # type: ignore[no-any-return]
    finally:
        con.unregister("_requests")


def cpu_ms(fn: Any, repeat: int) -> float:
    """The least CPU time of this thread (DuckDB runs on it: ``threads`` 1) over ``repeat``."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t0)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per size; the least is shown")
    args = parser.parse_args()
    with project_and_bodies("probe") as (services, project, numbered):
        bodies = [numbered(i) for i in range(200)]
        ctx = server_context()
        ingest = services.ingest
        context = (
            project.id, ctx.received_at, "server", None, None, None,
            ingest.geo.country(ctx.headers, ctx.client_ip), None,
            ingest.visitor_id(project.id, ctx), environment(None, None, None), None,
        )  # fmt: skip
        texts = [b.decode() for b in bodies]
        settings = services.settings
        con, sql = connect(settings.max_properties, settings.max_properties_bytes)

        # the same rows as the Python path (event ids are the bodies': compared too)
        out = shape(con, sql, request_table(context, texts[:20]))
        assert not any(out.column("declined").to_pylist()), "the probe declined a body"
        python_rows: list[tuple[Any, ...]] = []
        for b in bodies[:20]:
            batch = native.decode_batch(b)
            assert batch is not None
            rows, _, rejected = columnar.native_rows(ingest, project, batch.events, ctx, "server")
            assert not rejected
            python_rows += rows
        ours = out.drop_columns(["r", "declined"]).cast(EVENT_SCHEMA).to_pylist()
        theirs = rows_table(python_rows).to_pylist()
        differ = sum(a != b for a, b in zip(ours, theirs, strict=True))
        print(f"rows equal to the Python path's: {len(ours) - differ:,} of {len(ours):,}")

        con.register("_requests", request_table(context, texts[:1]))
        plan = cpu_ms(lambda: con.execute("EXPLAIN " + sql).fetchall(), args.repeat)
        con.unregister("_requests")
        print(f"planning the statement (EXPLAIN): {plan:.1f} ms of CPU")
        print("requests of 100 events per statement: ms of CPU per statement, µs per event")
        for n in (1, 8, 32, 200):
            requests = request_table(context, texts[:n])
            ms = cpu_ms(lambda r=requests: shape(con, sql, r), args.repeat)
            print(f"  {n:4d}  {ms:7.1f} ms  {ms * 1000 / (n * 100):6.2f} µs")

        def python_path() -> None:
            rows: list[tuple[Any, ...]] = []
            for b in bodies:
                batch = native.decode_batch(b)
                assert batch is not None
                rows += columnar.native_rows(ingest, project, batch.events, ctx, "server")[0]
            rows_table(rows)

        py = cpu_ms(python_path, args.repeat)
        print(
            f"the Python path (decode, rows, Arrow table), 200 requests: {py * 1000 / 20_000:.2f} µs per event"
        )
        con.close()


if __name__ == "__main__":
    main()
