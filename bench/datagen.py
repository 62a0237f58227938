"""Generate realistic analytics data and bulk-load it into an agentlytics data directory.

    .venv/bin/python -m bench.datagen --events 10_000_000 --data-dir /tmp/agentlytics-10m

The traffic comes from ``bench._traffic`` (visitors, sessions, power-law pages, referrers and
UTM campaigns, a signup/purchase funnel with drop-off, weekly cohorts, MCP tool calls, bots)
as the wire requests our clients send. Worker processes run each request through the real
ingest steps (``Ingestor.build``: validation, URL/UTM/referrer parsing, user-agent and bot
detection, geo, environment), so the rows are the ones the server would store, then hand
each day's rows, sorted by time, to this process as Arrow files; this process bulk-inserts
them through the DuckDB store. About ``--events`` events are loaded (the traffic rate is
calibrated to it; the exact count is reported); bot hits and identities (``/identify``) land in their tables. The owner
account (API key ``bench._server.BENCH_KEY``) and the project are created in the SQLite
metadata, so ``agentlytics serve --data-dir …`` answers for it at once.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agentlytics.app import build_services
from agentlytics.ingest.draft import RequestContext
from agentlytics.ingest.formats import native
from agentlytics.ingest.geo import GeoResolver
from agentlytics.ingest.pipeline import DropBot, Ingestor, Invalid
from agentlytics.ingest.privacy import VisitorHasher
from agentlytics.model.event import BotHit, Event
from agentlytics.model.project import Project
from agentlytics.settings import Settings, load_settings
from agentlytics.storage.arrow import events_table
from agentlytics.storage.duckdb.store import DuckDBEventStore
from bench._server import BENCH_KEY
from bench._traffic import DAY_MS, DayPlan, Population, Request, expand

console = Console()

BOT_SCHEMA = pa.schema(
    [
        ("project_id", pa.string()),
        ("timestamp", pa.timestamp("ms")),
        ("category", pa.string()),
        ("actor", pa.string()),
        ("name", pa.string()),
    ]
)
IDENTITY_SCHEMA = pa.schema(
    [
        ("project_id", pa.string()),
        ("previous_id", pa.string()),
        ("user_id", pa.string()),
        ("created_at", pa.timestamp("ms")),
    ]
)
RECEIVE_DELAY_MS = 800  # between an event's time and the server receiving it


def to_events(
    ingestor: Ingestor, project: Project, requests: list[Request]
) -> tuple[list[Event], list[BotHit], int]:
    """Run requests through the real per-event ingest steps, as ``POST /track`` would."""
    events: list[Event] = []
    bots: list[BotHit] = []
    invalid = 0
    for req in requests:
        ctx = RequestContext(
            headers=req.headers,
            client_ip=None,
            received_at=int(req.body["timestamp"]) + RECEIVE_DELAY_MS,
        )
        source = "browser" if native.looks_like_browser(req.headers) else "server"
        try:
            events.append(ingestor.build(project, native.draft(req.body, source=source), ctx))
        except DropBot as drop:
            bots.append(drop.hit)
        except Invalid:
            invalid += 1
    return events, bots, invalid


def make_ingestor(settings: Settings) -> Ingestor:
    """The ingest steps without a store: ``build`` never writes."""
    return Ingestor(
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        settings,
        geo=GeoResolver(settings.geoip_db or None),
        hasher=VisitorHasher(),
    )


# -- worker processes -----------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _init_worker(settings: Settings, project: Project, seed: int, out_dir: str) -> None:
    _worker.update(ingestor=make_ingestor(settings), project=project, seed=seed, out_dir=out_dir)


@dataclass
class DayResult:
    day: int
    path: str
    events: int
    bots: list[tuple[str, int, str, str, str]]
    identities: list[tuple[str, str, str, int]]
    invalid: int


def _build_day(plan: DayPlan) -> DayResult:
    project: Project = _worker["project"]
    requests, identifies = expand(plan, _worker["seed"])
    events, bots, invalid = to_events(_worker["ingestor"], project, requests)
    table = events_table(events)
    table = table.take(pc.sort_indices(table, [("timestamp", "ascending")]))
    path = os.path.join(_worker["out_dir"], f"day{plan.day:04d}.arrow")
    with pa.OSFile(path, "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=122_880)
    return DayResult(
        day=plan.day,
        path=path,
        events=table.num_rows,
        bots=[(b.project_id, b.timestamp, b.category, b.actor, b.name) for b in bots],
        identities=[(project.id, prev, user, at) for prev, user, at in identifies],
        invalid=invalid,
    )


# -- the load -------------------------------------------------------------------------------


def calibrate(days: int, end_ms: int, events: int, seed: int) -> float:
    """New visitors per day that make about ``events`` events over ``days`` days.

    The population at a trial rate is planned in full (cheap), and a sample of its sessions
    is expanded to learn the events per session; events grow linearly with the rate.
    """
    trial = 1000.0
    pop = Population(days=days, end_ms=end_ms, new_per_day=trial, seed=seed + 1)
    sessions = mcp = bots = 0
    sampled: list[DayPlan] = []
    for day in range(days):
        plan = pop.plan(day)
        sessions += plan.sessions["visitor"].size
        mcp += plan.mcp["agent"].size
        bots += plan.bots
        if day % 7 == 3:
            sampled.append(plan)
    browser_events = mcp_events = browser_n = mcp_n = 0
    for plan in sampled:
        requests, _ = expand(plan, seed)
        for r in requests:
            if r.body["event"] == "$mcp_call":
                mcp_events += 1
            elif "cf-ipcountry" in r.headers or "origin" not in r.headers:
                browser_events += 1
        browser_n += plan.sessions["visitor"].size
        mcp_n += plan.mcp["agent"].size
    expected = sessions * browser_events / max(browser_n, 1) + mcp * mcp_events / max(mcp_n, 1)
    return trial * events / max(expected, 1.0)


def plans(pop: Population, days: int) -> Iterator[DayPlan]:
    for day in range(days):
        yield pop.plan(day)


def load(args: argparse.Namespace) -> dict[str, Any]:
    data_dir: Path = args.data_dir
    if (data_dir / "events.duckdb").exists() and not args.force:
        raise SystemExit(f"{data_dir} already holds events; pass --force to add a project")
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = load_settings(
        {"data_dir": str(data_dir), "api_key": BENCH_KEY, "log_level": "warning"}, environ={}
    )
    services = build_services(settings)
    owner = services.projects.owner()
    project, _ = services.projects.create_project(owner, args.project, timezone=args.timezone)
    store = services.events
    assert isinstance(store, DuckDBEventStore)
    end_ms = (int(time.time() * 1000) // 3_600_000) * 3_600_000
    started = time.monotonic()
    rate = calibrate(args.days, end_ms, args.events, args.seed)
    pop = Population(days=args.days, end_ms=end_ms, new_per_day=rate, seed=args.seed)
    loaded = bots = identities = invalid = 0
    ctx = mp.get_context("spawn")
    with (
        tempfile.TemporaryDirectory(prefix="datagen-", dir=args.tmp) as tmp,
        ctx.Pool(
            args.workers,
            initializer=_init_worker,
            initargs=(settings, project, args.seed, tmp),
        ) as pool,
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("events"),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        task = progress.add_task(f"{project.name}: generating and loading", total=args.events)
        for result in pool.imap(_build_day, plans(pop, args.days)):
            with pa.memory_map(result.path) as source:
                table = ipc.open_file(source).read_all()
            loaded += store.append_table(table)
            del table
            os.unlink(result.path)
            if result.bots:
                bots += store.append_table(_rows(result.bots, BOT_SCHEMA), into="bot_hits")
            if result.identities:
                identities += store.append_table(
                    _rows(result.identities, IDENTITY_SCHEMA), into="identities"
                )
            invalid += result.invalid
            progress.update(task, completed=min(loaded, args.events))
        progress.update(task, total=loaded, completed=loaded)
    elapsed = time.monotonic() - started
    rolled = time.monotonic()
    store.advance_rollup(datetime.now(UTC).replace(tzinfo=None))
    rollup_s = time.monotonic() - rolled
    services.events.close()  # checkpoints
    services.meta.close()
    size = (data_dir / "events.duckdb").stat().st_size
    summary = {
        "project": project.name,
        "project_id": project.id,
        "events": loaded,
        "bot_hits": bots,
        "identities": identities,
        "invalid": invalid,
        "first_day_ms": end_ms - args.days * DAY_MS,
        "last_day_ends_ms": end_ms,
        "seconds": round(elapsed, 1),
        "rollup_seconds": round(rollup_s, 1),
        "events_per_s": round(loaded / elapsed),
        "file_mb": round(size / 2**20, 1),
    }
    return summary


def _rows(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)],
        schema=schema,
    )


def catch_up(data_dir: Path) -> float:
    """Bring the hourly rollup of an existing data dir up to now; returns the seconds taken."""
    settings = load_settings({"data_dir": str(data_dir), "log_level": "warning"}, environ={})
    services = build_services(settings)
    started = time.monotonic()
    try:
        store = services.events
        assert isinstance(store, DuckDBEventStore)
        store.advance_rollup(datetime.now(UTC).replace(tzinfo=None))
        return time.monotonic() - started
    finally:
        services.events.close()
        services.meta.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--project", default="bench")
    parser.add_argument("--timezone", default="UTC", help="the project's time zone")
    parser.add_argument("--days", type=int, default=56, help="history length (8 weeks)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--tmp", default=None, help="scratch dir for per-day Arrow files")
    parser.add_argument("--force", action="store_true", help="add to an existing data dir")
    parser.add_argument(
        "--catch-up",
        action="store_true",
        help="only bring the hourly rollup of an existing data dir up to date",
    )
    args = parser.parse_args()
    if args.catch_up:
        console.print(f"rollup caught up in {catch_up(args.data_dir):.1f} s")
        return
    summary = load(args)
    for key, value in summary.items():
        console.print(f"  {key}: {value}")
    console.print(
        f"serve it: AGENTLYTICS_API_KEY={BENCH_KEY} agentlytics serve --data-dir {args.data_dir}"
    )


if __name__ == "__main__":
    main()
