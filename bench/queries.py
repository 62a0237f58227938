"""Read-endpoint latency over a loaded data directory: through HTTP, and the same SQL direct.

    .venv/bin/python -m bench.datagen --events 10_000_000 --data-dir /tmp/agentlytics-10m
    .venv/bin/python -m bench.queries --data-dir /tmp/agentlytics-10m [--runs 5] [--json out.json]

Scale-out (ClickHouse events, PostgreSQL metadata), e.g. after ``agentlytics migrate``:

    .venv/bin/python -m bench.queries --data-dir /tmp/bench-ch \
        --events 'chdb:///tmp/ch-10m?database=agentlytics' \
        --meta postgresql://postgres@127.0.0.1:5432/agentlytics_bench \
        --compare duckdb.json --json clickhouse.json

Three phases, each bounded (``--runs`` timed runs after one warm-up, a per-request timeout):

1. HTTP: a real ``agentlytics serve`` on the data dir (loopback); each read endpoint that
   exists is called with the parameters below; the median wall time per endpoint.
   Endpoints that answer 404 (not implemented yet) are reported as skipped.
2. Capture: the same requests through the same app in-process, recording every SQL
   statement (with its parameters) the query engine sends to the store.
3. Direct: those statements run on a plain DuckDB connection to the same file (with
   ``--events``: a plain clickhouse-connect client to the same ClickHouse, ``?`` bound as
   ClickHouse query parameters), in order, with nothing of ours around them; the median of
   their summed wall time. chDB admits one process per directory, so the server has stopped
   by then and capture and direct run in this process, one after the other.

``--compare`` takes the ``--json`` of an earlier run (the DuckDB one) and adds the ratio of
this run's HTTP and direct medians to it, endpoint for endpoint.

``http / direct`` is then our overhead: HTTP, parsing, several statements where one might
do, Python-side shaping of the answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
from rich.console import Console
from rich.table import Table

from agentlytics.app import build_services, create_app
from agentlytics.settings import load_settings
from bench._server import BENCH_KEY, running_server

console = Console(width=160)


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    #: the issue's goal for the median, in ms (None: no goal stated)
    goal_ms: float | None = None


def calls(project: str) -> list[Call]:
    """Every read endpoint with its default parameters (7 days where it has a range), and
    the heavier 30-day variants of the main ones."""
    p = {"project": project}
    d30 = {**p, "since": "30d"}
    funnel_steps = [
        {"kind": "pageview", "match": "/pricing"},
        {"event": "signup_started"},
        {"event": "signup_completed"},
        {"event": "purchase"},
    ]
    return [
        Call("stats", "GET", "/stats", p, goal_ms=100),
        Call("stats 30d", "GET", "/stats", d30),
        Call("events", "GET", "/events", {**p, "limit": "100"}, goal_ms=100),
        Call(
            "query users+events by day 30d",
            "POST",
            "/query",
            body={
                **p,
                "metrics": ["event_count", "unique_users"],
                "group_by": ["date"],
                "date_from": "30d",
            },
        ),
        Call(
            "query events by day 30d (rollup)",
            "POST",
            "/query",
            body={
                **p,
                "metrics": ["event_count", "pageviews"],
                "group_by": ["date"],
                "date_from": "30d",
            },
        ),
        Call(
            "query pageviews by path 30d (rollup)",
            "POST",
            "/query",
            body={
                **p,
                "metrics": ["pageviews"],
                "group_by": ["path"],
                "date_from": "30d",
                "limit": 20,
            },
        ),
        Call("properties", "GET", "/properties", p),
        Call("properties/received", "GET", "/properties/received", p),
        Call("breakdown path", "GET", "/breakdown", {**p, "property": "path"}, goal_ms=100),
        Call("breakdown path 30d", "GET", "/breakdown", {**d30, "property": "path"}),
        Call("breakdown plan (JSON)", "GET", "/breakdown", {**p, "property": "plan"}, goal_ms=100),
        Call("pages", "GET", "/pages", p, goal_ms=100),
        Call("pages 30d", "GET", "/pages", d30),
        Call("sessions", "GET", "/sessions", p, goal_ms=100),
        Call("sessions/distribution", "GET", "/sessions/distribution", p),
        Call("heatmap", "GET", "/heatmap", p, goal_ms=100),
        Call("insights", "GET", "/insights", p, goal_ms=100),
        Call("funnel (30d)", "POST", "/funnel", body={**p, "steps": funnel_steps}, goal_ms=500),
        Call("retention (8 weeks)", "GET", "/retention", p, goal_ms=500),
        Call(
            "paths (30d)",
            "POST",
            "/paths",
            body={**p, "goal_event": "signup_completed"},
            goal_ms=500,
        ),
        Call("bot-traffic", "GET", "/bot-traffic", p),
        Call("mcp-servers", "GET", "/mcp-servers", p),
    ]


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median ms of ``runs`` calls after one warm-up, and the warm-up's result."""
    first = fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), first


def scale_out_env(args: argparse.Namespace) -> dict[str, str]:
    """The server's store URLs as environment variables (none: the embedded stores)."""
    urls = {"events": args.events, "meta": args.meta, "coord": args.coord}
    return {f"AGENTLYTICS_{k.upper()}": v for k, v in urls.items() if v}


def side_by_side(server: Any, call: Call, args: argparse.Namespace) -> tuple[float, float]:
    """``--clients`` clients, each on its own connection, each sending ``call`` ``--runs``
    times at once (as a dashboard's viewers would): the median latency in ms, and the
    requests answered per second."""
    samples: list[float] = []
    lock = threading.Lock()

    def client_loop() -> None:
        with server.client(timeout=args.timeout) as client:
            for _ in range(args.runs):
                started = time.perf_counter()
                client.request(call.method, call.path, params=call.params, json=call.body)
                with lock:
                    samples.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    threads = [threading.Thread(target=client_loop) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statistics.median(samples), len(samples) / (time.perf_counter() - began)


def http_phase(args: argparse.Namespace, todo: list[Call]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with (
        running_server(
            args.data_dir,
            log=args.data_dir / "bench-server.log",
            src=args.src,
            env=scale_out_env(args),
        ) as server,
        server.client(timeout=args.timeout) as client,
    ):
        for call in todo:

            def request(call: Call = call) -> httpx.Response:
                return client.request(call.method, call.path, params=call.params, json=call.body)

            first = request()
            if first.status_code == 404 and "not found" in first.text.lower():
                out[call.name] = {"status": 404}
                continue
            if args.clients > 1:
                median, per_s = side_by_side(server, call, args)
                out[call.name] = {"status": first.status_code, "http_ms": round(median, 1)}
                out[call.name]["requests_per_s"] = round(per_s, 2)
                console.print(
                    f"  http  {call.name}: {median:.1f} ms, {per_s:.1f} requests/s "
                    f"with {args.clients} clients ({first.status_code})"
                )
                continue
            median, _ = timed(request, args.runs)
            out[call.name] = {"status": first.status_code, "http_ms": round(median, 1)}
            if first.status_code >= 400:
                out[call.name]["error"] = first.text[:200]
            console.print(f"  http  {call.name}: {median:.1f} ms ({first.status_code})")
    return out


class Recorder:
    """Wraps a store's ``query`` to keep the statements each request runs."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.inner = store.query
        self.statements: list[tuple[str, list[Any]]] = []
        store.query = self.query

    def query(self, sql: str, params: Any = ()) -> Any:
        self.statements.append((sql, list(params)))
        return self.inner(sql, params)


def capture_phase(args: argparse.Namespace, todo: list[Call]) -> dict[str, list[Any]]:
    urls = {k: v for k, v in (("events", args.events), ("meta", args.meta)) if v}
    settings = load_settings(
        {"data_dir": str(args.data_dir), "api_key": BENCH_KEY, "log_level": "warning", **urls},
        environ={},
    )
    services = build_services(settings)
    recorder = Recorder(services.events)
    app = create_app(services)
    captured: dict[str, list[Any]] = {}

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers={"X-API-Key": BENCH_KEY}
        ) as client:
            for call in todo:
                recorder.statements = []
                try:
                    await client.request(call.method, call.path, params=call.params, json=call.body)
                except Exception as exc:  # reported, and that call is left out of the direct run
                    console.print(f"  [red]capture failed[/red] {call.name}: {exc!r}")
                    continue
                captured[call.name] = recorder.statements

    try:
        asyncio.run(run())
    finally:
        services.events.close()
        services.meta.close()
    return captured


def direct_phase(
    args: argparse.Namespace, captured: dict[str, list[Any]]
) -> dict[str, dict[str, Any]]:
    if args.events:
        return clickhouse_direct(args, captured)
    con = duckdb.connect(str(args.data_dir / "events.duckdb"), read_only=True)
    con.execute("SET preserve_insertion_order = false")  # as the server's store sets it
    try:
        return run_direct(
            captured, args.runs, "duckdb", lambda sql, params: con.execute(sql, params).fetchall()
        )
    finally:
        con.close()


def clickhouse_direct(
    args: argparse.Namespace, captured: dict[str, list[Any]]
) -> dict[str, dict[str, Any]]:
    """The captured statements on a plain clickhouse-connect client, with the settings the
    store's readers have (UTC session time zone, materialized CTEs where the server has
    them)."""
    import clickhouse_connect

    from agentlytics.storage.clickhouse.params import bind
    from agentlytics.storage.clickhouse.store import (
        CLIENT_SETTINGS,
        connection_args,
        reader_settings,
    )

    dsn, database = connection_args(args.events)
    client = clickhouse_connect.get_client(dsn=dsn, database=database, settings=CLIENT_SETTINGS)
    settings = reader_settings(client)

    def run(sql: str, params: list[Any]) -> None:
        statement, values = bind(sql, params)
        client.query(statement, parameters=values or None, settings=settings)

    try:
        return run_direct(captured, args.runs, "clickhouse", run)
    finally:
        client.close()


def run_direct(
    captured: dict[str, list[Any]],
    runs: int,
    engine: str,
    execute: Callable[[str, list[Any]], Any],
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, statements in captured.items():
        if not statements:
            continue

        def run(statements: list[Any] = statements) -> None:
            for sql, params in statements:
                execute(sql, params)

        try:
            median, _ = timed(run, runs)
        except Exception as exc:  # reported; the other calls still run
            console.print(f"  [red]{engine} failed[/red] {name}: {exc!r}"[:300])
            continue
        out[name] = {"direct_ms": round(median, 1), "statements": len(statements)}
        console.print(f"  {engine} {name}: {median:.1f} ms ({len(statements)} statements)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--project", default="bench")
    parser.add_argument("--runs", type=int, default=5, help="timed runs after a warm-up")
    parser.add_argument("--timeout", type=float, default=120, help="per request, seconds")
    parser.add_argument(
        "--clients", type=int, default=1, help="concurrent clients per call (HTTP phase)"
    )
    parser.add_argument("--only", default="", help="comma-separated substrings of call names")
    parser.add_argument("--skip-direct", action="store_true")
    parser.add_argument("--src", type=Path, help="run the server from this src/ tree (A/B)")
    parser.add_argument("--events", help="event store URL (clickhouse://…, chdb:///dir…)")
    parser.add_argument("--meta", help="metadata store URL (postgresql://…)")
    parser.add_argument("--coord", help="coordinator URL (redis://…)")
    parser.add_argument("--compare", type=Path, help="the --json of a run to set beside this one")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--sql", type=Path, help="write the captured statements here (JSON)")
    args = parser.parse_args()
    engine = "ClickHouse" if args.events else "DuckDB"
    baseline: dict[str, dict[str, Any]] = {}
    if args.compare:
        baseline = json.loads(args.compare.read_text())["results"]

    todo = calls(args.project)
    if args.only:
        wanted = [w.strip() for w in args.only.split(",")]
        todo = [c for c in todo if any(w in c.name for w in wanted)]
    console.print(f"[bold]HTTP[/bold] ({args.runs} runs after a warm-up, median)")
    results = http_phase(args, todo)
    if not args.skip_direct:
        live = [c for c in todo if results.get(c.name, {}).get("status") not in (404, None)]
        console.print("[bold]capturing SQL[/bold]")
        captured = capture_phase(args, live)
        if args.sql:
            statements = {
                name: [{"sql": sql, "params": [str(p) for p in params]} for sql, params in stmts]
                for name, stmts in captured.items()
            }
            args.sql.write_text(json.dumps(statements, indent=1))
        console.print(f"[bold]direct {engine}[/bold]")
        for name, row in direct_phase(args, captured).items():
            results[name].update(row)
    for name, r in results.items():
        base = baseline.get(name, {})
        for key in ("http_ms", "direct_ms"):
            if r.get(key) and base.get(key):
                r[f"{key}_ratio"] = round(r[key] / base[key], 2)

    table = Table(title=f"read endpoints over {args.events or args.data_dir} (median ms)")
    columns = ["endpoint", "HTTP", f"{engine} direct", "HTTP/direct", "SQL stmts", "goal", "ok"]
    if baseline:
        columns[1:1] = ["base HTTP", "base direct"]
        columns += ["HTTP / base", "direct / base"]
    for col in columns:
        table.add_column(col, justify="right")
    for call in todo:
        r = results.get(call.name, {})
        base = baseline.get(call.name, {})
        before = [str(base.get("http_ms", "")), str(base.get("direct_ms", ""))] if baseline else []
        if r.get("status") == 404:
            table.add_row(
                call.name,
                *before,
                "404 (not implemented)",
                *[""] * (len(columns) - 2 - len(before)),
            )
            continue
        http_ms, direct_ms = r.get("http_ms"), r.get("direct_ms")
        ratio = f"{http_ms / direct_ms:.2f}x" if http_ms and direct_ms else ""
        goal = f"≤ {call.goal_ms:.0f}" if call.goal_ms else ""
        ok = ""
        if call.goal_ms and http_ms is not None:
            ok = "[green]yes[/green]" if http_ms <= call.goal_ms else "[red]no[/red]"
        if r.get("status", 200) >= 400:
            ok = f"[red]{r['status']}[/red]"
        cells = [call.name, *before, str(http_ms), str(direct_ms or ""), ratio]
        cells += [str(r.get("statements", "")), goal, ok]
        if baseline:
            cells += [
                f"{r[k]:.2f}x" if k in r else "" for k in ("http_ms_ratio", "direct_ms_ratio")
            ]
        table.add_row(*cells)
    console.print(table)
    if args.json:
        out = {"runs": args.runs, "engine": engine, "results": results}
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
