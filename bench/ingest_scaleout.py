"""Ingest on the scale-out backends versus the embedded default, and the ClickHouse store alone.

    .venv/bin/python -m bench.ingest_scaleout [--seconds 10] [--json out.json]

Part 1, HTTP: the load generator of ``bench.ingest`` (its own process) against real
``agentlytics serve`` processes: embedded (DuckDB + SQLite + memory, one process), then the
scale-out backends (PostgreSQL and Redis on loopback, ClickHouse = chDB) with 1 and 2
workers. Here ClickHouse is chDB behind the test suite's HTTP shim (``tests/storage/
chdb_http.py``) running in this process: a single-threaded Python HTTP server, so these
scale-out figures measure the workers' pipeline against a slow ClickHouse, not ClickHouse.

Part 2, the ClickHouse store in-process on chDB (no HTTP): concurrent ``append`` calls of
1 and 100 events, so the group commit (one key lookup + one insert per group) is measured.
Each scenario checks that the stored count equals the acknowledged count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agentlytics.model.event import Event
from agentlytics.storage.clickhouse.store import ClickHouseEventStore
from bench._server import running_server
from bench.ingest import Scenario, run_scenario
from tests.storage import backends
from tests.storage.chdb_http import ChdbHttpServer

console = Console(width=120)
SCENARIOS = [Scenario("track c=32", "single", 32), Scenario("batch x100 c=8", "batch", 8)]


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its children (uvicorn workers), from /proc."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    pending = [pid]
    while pending:
        p = pending.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            pending += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except FileNotFoundError:
            continue
    return total


def http_part(args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    results = []
    chdb = ChdbHttpServer(backends.CHDB_DIR)
    setups: list[tuple[str, dict[str, str]]] = [("embedded", {})]
    with ExitStack() as stack:
        for workers in (1, 2):
            meta = stack.enter_context(backends.postgres_database())
            coord = stack.enter_context(backends.redis_namespace())
            env = {
                "AGENTLYTICS_EVENTS": chdb.url(backends.unique("bench")),
                "AGENTLYTICS_META": meta,
                "AGENTLYTICS_COORD": coord,
                "AGENTLYTICS_WORKERS": str(workers),
            }
            setups.append((f"scale-out, {workers} worker{'s' * (workers > 1)}", env))
        for label, env in setups:
            with running_server(tmp / label.replace(" ", ""), env=env, log=tmp / "s.log") as srv:
                for sc in SCENARIOS:
                    cpu0 = tree_cpu_s(srv.pid)
                    res = run_scenario(srv, sc, args, None)
                    res["server_cpu_s"] = round(tree_cpu_s(srv.pid) - cpu0, 2)
                    res["setup"] = label
                    results.append(res)
                    console.print(
                        f"{label} {sc.name}: {res['events_per_s']:,} events/s, "
                        f"p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, "
                        f"acked {res['acknowledged']:,} found {res['found']:,}"
                    )
    chdb.close()
    return results


def events(project: str, prefix: str, size: int) -> list[Event]:
    now = int(time.time() * 1000)
    return [
        Event(
            project_id=project,
            event_id=f"{prefix}-{k}",
            name="page_view",
            timestamp=now,
            received_at=now,
            path="/docs",
            properties='{"plan":"pro"}',
        )
        for k in range(size)
    ]


async def measure_store(
    store: ClickHouseEventStore, size: int, concurrency: int, seconds: float
) -> dict[str, Any]:
    project = uuid.uuid4().hex
    acked = 0
    latencies: list[float] = []
    started = time.monotonic()

    async def client(n: int) -> None:
        nonlocal acked
        i = 0
        while time.monotonic() < started + seconds:
            i += 1
            t0 = time.perf_counter()
            flags = await store.append(events(project, f"{n}-{i}", size))
            acked += sum(flags)
            latencies.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(client(n) for n in range(concurrency)))
    elapsed = time.monotonic() - started
    found = store.query("SELECT count() FROM events WHERE project_id = ?", [project])
    latencies.sort()
    return {
        "scenario": f"append x{size} c={concurrency}",
        "events_per_s": round(acked / elapsed),
        "p50_ms": round(latencies[len(latencies) // 2], 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)], 1),
        "acknowledged": acked,
        "found": int(found.rows[0][0]),
    }


async def store_part(args: argparse.Namespace) -> list[dict[str, Any]]:
    store = ClickHouseEventStore(f"chdb://{backends.CHDB_DIR}?database={backends.unique('st')}")
    try:
        results = [
            await measure_store(store, size, concurrency, args.seconds)
            for size, concurrency in ((1, 32), (100, 8))
        ]
    finally:
        store.close()
    for r in results:
        console.print(r)
    return results


def migrate_part(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """``agentlytics migrate`` of ``--migrate-events`` synthetic events, DuckDB → chDB + PG."""
    from agentlytics.storage.duckdb.store import DuckDBEventStore

    data_dir = tmp / "embedded"
    data_dir.mkdir()
    store = DuckDBEventStore(str(data_dir / "events.duckdb"))
    start = int(time.time() * 1000) - 60 * 86_400_000  # spread over two months
    step = 60 * 86_400_000 // args.migrate_events
    for first in range(0, args.migrate_events, 50_000):
        batch = events("p1", f"m{first}", min(50_000, args.migrate_events - first))
        for k, e in enumerate(batch):
            e.timestamp = e.received_at = start + (first + k) * step
            e.user_id = f"u{(first + k) % 5000}"
        store.append_sync(batch)
    store.close()
    with backends.postgres_database() as meta:
        started = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "agentlytics",
                "migrate",
                "--data-dir",
                str(data_dir),
                "--to-events",
                f"chdb://{tmp / 'chdb'}",
                "--to-meta",
                meta,
            ],
            check=True,
        )
        elapsed = time.monotonic() - started
    result = {
        "events": args.migrate_events,
        "seconds": round(elapsed, 1),
        "events_per_s": round(args.migrate_events / elapsed),
        "duckdb_bytes": _size(data_dir / "events.duckdb"),
        "clickhouse_bytes": _size(tmp / "chdb"),
    }
    console.print(result)
    return result


def _size(path: Path) -> int:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--max-events", type=int, default=2_000_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", choices=["http", "store", "migrate"], help="run one part")
    parser.add_argument("--migrate-events", type=int, default=1_000_000)
    args = parser.parse_args()
    # what bench.ingest.run_scenario reads besides our options
    args.generators, args.browser, args.nice = 1, False, 0
    http: list[dict[str, Any]] = []
    store: list[dict[str, Any]] = []
    if args.only in (None, "http"):
        with tempfile.TemporaryDirectory(prefix="agentlytics-bench-") as tmp:
            http = http_part(args, Path(tmp))
    if args.only in (None, "store"):
        store = asyncio.run(store_part(args))
    migrated: dict[str, Any] = {}
    if args.only in (None, "migrate"):
        with tempfile.TemporaryDirectory(prefix="agentlytics-bench-") as tmp:
            migrated = migrate_part(args, Path(tmp))
    table = Table(title="ingest, acknowledged events/s (stored = acknowledged in every row)")
    for col in ("setup", "scenario", "events/s", "p50 ms", "p99 ms", "server CPU µs/event"):
        table.add_column(col, justify="right")
    for r in http:
        per_event = r["server_cpu_s"] / r["acknowledged"] * 1e6 if r["acknowledged"] else 0
        table.add_row(
            r["setup"],
            r["scenario"],
            f"{r['events_per_s']:,}",
            str(r["p50_ms"]),
            str(r["p99_ms"]),
            f"{per_event:,.0f}",
        )
    for r in store:
        table.add_row(
            "ClickHouse store on chDB",
            r["scenario"],
            f"{r['events_per_s']:,}",
            str(r["p50_ms"]),
            str(r["p99_ms"]),
            "",
        )
    console.print(table)
    if args.json:
        results = {"http": http, "store": store, "migrate": migrated}
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
