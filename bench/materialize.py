"""How long materializing a property key holds the DuckDB writer up, step by step.

    .venv/bin/python -m bench.materialize --data-dir /tmp/agentlytics-10m --key plan --key referrer

Opens the data directory's event store (no server may have it open; it is modified: the keys
stay materialized), asks for each key as a first breakdown by it would, and runs the
writer's fill steps until the key is complete, timing each: a step is how long ingest waits
behind it. Stops after ``--max-seconds`` per key.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from rich.console import Console

from agentlytics.storage.duckdb.store import DuckDBEventStore

console = Console()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--key", action="append", required=True, help="property key (repeat)")
    parser.add_argument("--project", help="project id (default: the first one with events)")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="per key")
    args = parser.parse_args()

    started = time.perf_counter()
    store = DuckDBEventStore(str(args.data_dir / "events.duckdb"))
    console.print(f"opened in {time.perf_counter() - started:.1f} s (summaries caught up)")
    try:
        project = args.project or store.query("SELECT project_id FROM events LIMIT 1").rows[0][0]
        for key in args.key:
            store.materialize(project, key)
            store._call(store._materialize_wanted)
            steps: list[float] = []
            begun = time.perf_counter()
            while (project, key) in store._keys.filling:
                if time.perf_counter() - begun > args.max_seconds:
                    console.print(f"[yellow]{key}: stopped after {args.max_seconds:.0f} s[/yellow]")
                    break
                at = time.perf_counter()
                store._call(store._fill_step)
                steps.append((time.perf_counter() - at) * 1000)
            if not steps:
                console.print(f"{key}: nothing to fill (already materialized, or no events)")
                continue
            console.print(
                f"{key}: {len(steps)} steps in {time.perf_counter() - begun:.1f} s, "
                f"median {statistics.median(steps):.0f} ms, max {max(steps):.0f} ms, "
                f"complete: {key in store.materialized.get(project, ())}"
            )
    finally:
        store.close()


if __name__ == "__main__":
    main()
