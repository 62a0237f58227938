"""Ingest throughput: a real ``agentlytics serve`` against a load generator in its own process.

    .venv/bin/python -m bench.ingest [--seconds 10] [--max-events 2000000] [--json out.json]

For each scenario (single-event ``/track`` at concurrency 8, 32 and 128; ``/track/batch`` with
100 events per request) it creates a fresh project, runs the generator process(es) against the
server on 127.0.0.1, then asks the server how many events of that project it stored and
compares with how many it acknowledged. Everything is bounded: each scenario stops at
``--seconds`` or ``--max-events``, and the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench._loadgen import LoadSpec, generate
from bench._server import Server, running_server
from bench.machine import probe

console = Console(width=110)


@dataclass(frozen=True)
class Scenario:
    name: str
    mode: str
    concurrency: int


def scenarios(batch_concurrency: int) -> list[Scenario]:
    return [
        Scenario("track c=8", "single", 8),
        Scenario("track c=32", "single", 32),
        Scenario("track c=128", "single", 128),
        Scenario(f"batch100 c={batch_concurrency}", "batch", batch_concurrency),
    ]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stored_events(server: Server, project: str) -> int:
    today = datetime.now(UTC).date()
    with server.client() as c:
        r = c.post(
            "/query",
            json={
                "project": project,
                "metrics": ["event_count"],
                "date_from": (today - timedelta(days=2)).isoformat(),
                "date_to": (today + timedelta(days=1)).isoformat(),
                "timezone": "UTC",
            },
        )
        r.raise_for_status()
        rows = r.json()["rows"]
        return int(rows[0]["event_count"]) if rows else 0


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def thread_cpu_s(pid: int) -> dict[int, float]:
    """User + system CPU seconds of each thread of a process so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended
            continue
        cpu[int(tid)] = (int(fields[11]) + int(fields[12])) / ticks
    return cpu


def set_priority(pid: int, nice: int) -> None:
    """Renice a process and all its threads (Linux: each thread has its own priority)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.setpriority(os.PRIO_PROCESS, int(tid), nice)


def run_scenario(
    server: Server, sc: Scenario, args: argparse.Namespace, profile_dir: Path | None
) -> dict[str, Any]:
    name = f"bench-{sc.mode}-{sc.concurrency}-{uuid.uuid4().hex[:6]}"
    project = server.create_project(name)
    token = project["project_token"] if "project_token" in project else project["token"]
    ctx = mp.get_context("spawn")
    queue: Any = ctx.Queue()
    procs = []
    per_proc = max(1, sc.concurrency // args.generators)
    spy = None
    if profile_dir is not None:
        fmt = os.environ.get("BENCH_PYSPY_FORMAT", "speedscope")
        spy = subprocess.Popen(
            [
                shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--pid",
                str(server.pid),
                "--duration",
                str(int(args.seconds)),
                "--rate",
                "200",
                "--nonblocking",
                *(["--gil"] if os.environ.get("BENCH_PYSPY_GIL") else []),
                *(["--native"] if os.environ.get("BENCH_PYSPY_NATIVE") else []),
                "--format",
                # raw: collapsed stacks, one line each (grep-able); default speedscope
                fmt,
                "--output",
                str(profile_dir / f"{sc.mode}-{sc.concurrency}.{fmt}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    cpu0 = server_cpu_s(server.pid)
    threads0 = thread_cpu_s(server.pid)
    load0 = os.getloadavg()[0]
    for g in range(args.generators):
        spec = LoadSpec(
            host="127.0.0.1",
            port=server.port,
            token=token,
            run_id=f"{uuid.uuid4().hex[:8]}{g}",
            mode=sc.mode,
            concurrency=per_proc,
            seconds=args.seconds,
            max_events=args.max_events // args.generators,
            batch_size=100,
            browser=args.browser,
        )
        proc = ctx.Process(target=generate, args=(spec, queue), daemon=True)
        proc.start()
        procs.append(proc)
        if args.nice and proc.pid is not None:
            os.setpriority(os.PRIO_PROCESS, proc.pid, args.nice)
    parts = [json.loads(queue.get(timeout=args.seconds + 120)) for _ in procs]
    for proc in procs:
        proc.join(30)
    cpu = server_cpu_s(server.pid) - cpu0
    threads = thread_cpu_s(server.pid)
    by_thread = sorted(
        (round(at - threads0.get(tid, 0.0), 2) for tid, at in threads.items() if tid != server.pid),
        reverse=True,
    )
    if spy is not None:
        spy.wait(args.seconds + 60)
    latencies = [x for p in parts for x in p["latencies_ms"]]
    acknowledged = sum(p["acknowledged"] for p in parts)
    elapsed = max(p["elapsed_s"] for p in parts)
    errors: dict[str, int] = {}
    for p in parts:
        for k, v in p["errors"].items():
            errors[k] = errors.get(k, 0) + v
    found = stored_events(server, name)
    return {
        "scenario": sc.name,
        "mode": sc.mode,
        "concurrency": sc.concurrency,
        "requests": sum(p["requests"] for p in parts),
        "acknowledged": acknowledged,
        "found": found,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "events_per_s": round(acknowledged / elapsed) if elapsed else 0,
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
        "server_cpu_s": round(cpu, 2),
        "server_cpu_us_per_event": round(cpu / acknowledged * 1e6, 1) if acknowledged else None,
        "generator_cpu_s": round(sum(p["cpu_s"] for p in parts), 2),
        # the server's main thread (the event loop), then its busiest other threads (the
        # writer, the journal apply, DuckDB's workers), CPU seconds in the scenario
        "server_threads_cpu_s": [
            round(threads.get(server.pid, 0.0) - threads0.get(server.pid, 0.0), 2),
            *[x for x in by_thread if x > 0][:6],
        ],
        # the machine's 1-minute load average around the run: other work skews the figures
        "loadavg": [round(load0, 1), round(os.getloadavg()[0], 1)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="per scenario (default 10)")
    parser.add_argument(
        "--max-events", type=int, default=2_000_000, help="per scenario (default 2,000,000)"
    )
    parser.add_argument("--generators", type=int, default=1, help="generator processes")
    parser.add_argument("--batch-concurrency", type=int, default=8)
    parser.add_argument(
        "--only", default="", help="comma-separated modes or names: single,batch,'track c=8'"
    )
    parser.add_argument(
        "--browser", action="store_true", help="send as a browser would (Origin, UA, beacon)"
    )
    parser.add_argument(
        "--env", action="append", default=[], help="server setting, e.g. AGENTLYTICS_X=1"
    )
    parser.add_argument("--data-dir", type=Path, help="server data dir (default: a temp dir)")
    parser.add_argument("--src", type=Path, help="run the server from this src/ tree (A/B)")
    parser.add_argument("--profile", type=Path, help="write py-spy speedscope profiles here")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="scheduling priority of the server and generators (negative needs root): on a "
        "shared machine it measures the machine rather than its neighbours",
    )
    args = parser.parse_args()

    env = dict(item.split("=", 1) for item in args.env)
    chosen = scenarios(args.batch_concurrency)
    if args.only:
        wanted = {w.strip() for w in args.only.split(",")}
        chosen = [s for s in chosen if s.mode in wanted or s.name in wanted]
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    results = []
    # the machine's speed now (bench/machine.py): its drift shows apart from the code's
    probes = [round(probe(), 2)]
    console.print(f"machine probe: {probes[0]} µs per event (lower is faster)")
    with tempfile.TemporaryDirectory(prefix="agentlytics-bench-") as tmp:
        if os.environ.get("BENCH_KEEP_LOG"):
            tmp = os.environ["BENCH_KEEP_LOG"]
        data_dir = args.data_dir or Path(tmp) / "data"
        with running_server(
            data_dir, env=env, log=Path(tmp) / "server.log", src=args.src
        ) as server:
            console.print(f"server pid {server.pid} on {server.url}, data in {data_dir}")
            if args.nice:
                set_priority(server.pid, args.nice)
            for sc in chosen:
                started = time.monotonic()
                res = run_scenario(server, sc, args, args.profile)
                res["wall_s"] = round(time.monotonic() - started, 1)
                results.append(res)
                ok = (
                    "[green]no loss[/green]"
                    if res["found"] == res["acknowledged"]
                    else ("[red]MISMATCH[/red]")
                )
                console.print(
                    f"{sc.name}: {res['events_per_s']:,} events/s, p50 {res['p50_ms']} ms, "
                    f"p99 {res['p99_ms']} ms, acked {res['acknowledged']:,}, "
                    f"found {res['found']:,} {ok}, errors {res['errors'] or 0}, "
                    f"server CPU s by thread (main first) {res['server_threads_cpu_s']}"
                )
    probes.append(round(probe(), 2))
    console.print(f"machine probe: {probes[0]} µs per event before, {probes[1]} after")
    table = Table(title="ingest (acknowledged events/s; found in store = acknowledged)")
    for col in (
        "scenario",
        "events/s",
        "p50 ms",
        "p99 ms",
        "acked",
        "found",
        "errors",
        "server µs/event",
        "gen CPU s",
        "load",
    ):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(
            r["scenario"],
            f"{r['events_per_s']:,}",
            str(r["p50_ms"]),
            str(r["p99_ms"]),
            f"{r['acknowledged']:,}",
            f"{r['found']:,}",
            str(sum(r["errors"].values())),
            str(r["server_cpu_us_per_event"]),
            str(r["generator_cpu_s"]),
            "→".join(str(x) for x in r["loadavg"]),
        )
    console.print(table)
    if args.json:
        meta = {
            "argv": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "machine_probe_us": probes,
        }
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
