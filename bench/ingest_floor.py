"""The Python work per event of the batch path, stage by stage, in one thread.

    .venv/bin/python -m bench.ingest_floor [--requests 300] [--repeat 3]

What one interpreter must do for every event of a ``/track/batch`` before any HTTP, thread
hand-over or DuckDB work: the typed decode of the body (``formats/native.decode_batch``),
the rows (``ingest/columnar.native_rows``: checks, enrichment, the stored tuple), the dedupe
(``RecentIds``) and the journal frame (``frames.encode``, JSON). Until the eighth round the
apply also made an Arrow table of the rows (``arrow.rows_table``, ~1.2 µs per event); it now
hands the frames to DuckDB, which parses them without the GIL. The bodies are the load
generator's (``bench/_loadgen.py``: page views with URL, referrer, UTM and properties, one
MCP call in ten), for a project on a temporary data dir. CPU time of this thread (``time.thread_time``), per event, the best of
``--repeat`` rounds (the least disturbed by other work on the machine).

All of it holds the GIL, so its sum bounds what one process can ingest: at 10 µs per event
the bound is 100,000 events/s with nothing else running. The machine's speed drifts, so the
total is also given as a multiple of ``bench/machine.py``'s probe, measured right after: that
ratio moves with our code, hardly with the machine.

The same work as one DuckDB statement, which would run without the GIL, is
``bench/sql_shape.py`` (it replaced the seventh round's partial probe, ``--sql-probe``).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from agentlytics.app import build_services
from agentlytics.ingest import columnar
from agentlytics.ingest.draft import RequestContext
from agentlytics.ingest.formats import native
from agentlytics.settings import load_settings
from agentlytics.storage.dedupe import RecentIds, row_keys
from agentlytics.storage.duckdb import frames
from bench._loadgen import _PLACEHOLDER, LoadSpec, _request
from bench.machine import probe

STAGES = ("decode", "rows", "dedupe", "frame")


def server_context() -> RequestContext:
    """The request context of the load generator's server-side batches."""
    return RequestContext(
        headers={"content-type": "application/json", "user-agent": "bench/1.0"},
        client_ip="127.0.0.1",
        received_at=int(time.time() * 1000),
    )


@contextlib.contextmanager
def project_and_bodies(name: str) -> Iterator[tuple[Any, Any, Callable[[int], bytes]]]:
    """Services on a temporary data dir, a project, and the load generator's batch body
    numbered ``n`` (100 events, ids unique per number)."""
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(
            {"data_dir": data_dir, "api_key": "aak_" + "f" * 40, "log_level": "warning"},
            environ={},
        )
        services = build_services(settings)
        try:
            services.projects.bootstrap()
            project, _ = services.projects.create_project(services.projects.owner(), name)
            spec = LoadSpec(
                host="127.0.0.1", port=0, token="unused", run_id=name, mode="batch",
                concurrency=1, seconds=1, max_events=1,
            )  # fmt: skip
            _, body = _request(spec)
            width = len(_PLACEHOLDER)
            yield services, project, lambda n: body.replace(_PLACEHOLDER, b"%0*d" % (width, n))
        finally:
            services.events.close()
            services.meta.close()


def measure(services: Any, project: Any, bodies: list[bytes]) -> dict[str, float]:
    """Seconds of this thread's CPU per stage over ``bodies``."""
    ctx = server_context()
    seen = RecentIds(2_000_000)
    spent = dict.fromkeys(STAGES, 0.0)
    clock = time.thread_time
    for body in bodies:
        t0 = clock()
        batch = native.decode_batch(body)
        t1 = clock()
        assert batch is not None, "the generator's body no longer decodes typed"
        rows, _props, rejected = columnar.native_rows(
            services.ingest, project, batch.events, ctx, "server"
        )
        t2 = clock()
        assert not rejected, rejected
        seen.add_all(row_keys(rows))
        t3 = clock()
        frames.encode(rows, [])
        t4 = clock()
        spent["decode"] += t1 - t0
        spent["rows"] += t2 - t1
        spent["dedupe"] += t3 - t2
        spent["frame"] += t4 - t3
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="batches of 100 per round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is shown")
    args = parser.parse_args()
    rounds = []
    with project_and_bodies("floor") as (services, project, numbered):
        for r in range(args.repeat + 1):  # a first round to warm the caches, not shown
            bodies = [numbered(r * args.requests + i) for i in range(args.requests)]
            spent = measure(services, project, bodies)
            if r:
                rounds.append({k: v / (args.requests * 100) * 1e6 for k, v in spent.items()})
    best = min(rounds, key=lambda x: sum(x.values()))
    print(f"{args.requests * 100:,} events per round, best of {args.repeat} (µs of CPU per event)")
    for stage in STAGES:
        print(f"  {stage:7s} {best[stage]:6.2f}")
    total = sum(best.values())
    print(f"  {'total':7s} {total:6.2f}  -> at most {1e6 / total:,.0f} events/s in one interpreter")
    # the machine's speed now: the ratio tells our code's cost apart from the machine's drift
    machine = probe()
    print(
        f"machine probe {machine:.2f} µs per event: the total is {total / machine:.2f}x the probe"
    )


if __name__ == "__main__":
    main()
