"""How fast this machine runs Python right now, apart from agentlytics' own code.

    .venv/bin/python -m bench.machine [--rounds 5]

The machine the figures in docs/performance.md come from is shared, and its speed drifts:
the same tree's ingest figure has moved 3x between days, and by 1.5x within an hour. An events/s
figure alone cannot tell a change in the code from a change in the machine, so the ingest
benchmarks print this probe beside their figures (``bench.ingest`` before and after its
scenarios, while the server is idle).

The probe is a fixed workload shaped like the batch path's Python but written with the
standard library only, so that it measures the machine, not our code: decode a body of 100
events (``json.loads``), then per event read a dozen fields, split the URL, serialize the
properties again and build a tuple of 45 values. It prints the CPU time of this thread per
event, the best of ``--rounds`` rounds of 200 bodies (the least disturbed by neighbours).
Lower is faster; a figure twice another means Python ran at half the speed.
"""

from __future__ import annotations

import argparse
import json
import time
from urllib.parse import urlsplit

PAGES = ["/", "/pricing", "/docs", "/blog/launch", "/docs/install", "/signup"]


def _body(n: int) -> bytes:
    """A fixed batch of 100 events (one MCP call in ten), its ids numbered by ``n``."""
    events = []
    for i in range(100):
        event: dict[str, object] = {"event": "page_view", "id": f"probe-{n:09d}-{i}"}
        if i % 10 == 9:
            event.update(event="$mcp_call", user_id=f"agent-{i % 7}", latency_ms=20 + i)
            event["properties"] = {"tool": "search_docs"}
        else:
            path = PAGES[i % len(PAGES)]
            event.update(anonymous_id=f"v-{i % 97}", session_id=f"s-{n:09d}")
            event["properties"] = {
                "path": path,
                "url": f"https://example.com{path}?utm_source=bench",
                "referrer": "https://www.google.com/",
                "plan": "free",
            }
        events.append(event)
    return json.dumps({"token": "aat_probe", "events": events}).encode()


def _rows(body: bytes) -> list[tuple[object, ...]]:
    rows = []
    for e in json.loads(body)["events"]:
        props = e.get("properties") or {}
        url = props.get("url")
        parts = urlsplit(url) if url else None
        rows.append(
            (
                "project",
                e.get("id"),
                e["event"].strip(),
                e.get("timestamp"),
                e.get("user_id"),
                e.get("anonymous_id"),
                e.get("session_id"),
                url,
                parts.hostname if parts else None,
                (props.get("path") or (parts.path if parts else None)),
                props.get("referrer"),
                e.get("latency_ms"),
                json.dumps(props, separators=(",", ":")),
                *(None,) * 32,
            )
        )
    return rows


def probe(rounds: int = 5, bodies: int = 200) -> float:
    """µs of this thread's CPU per event of the fixed workload, the best of ``rounds``."""
    made = [_body(n) for n in range(bodies)]
    best = float("inf")
    for r in range(rounds + 1):  # a first round to warm the caches, not counted
        t0 = time.thread_time()
        for body in made:
            _rows(body)
        if r:
            best = min(best, time.thread_time() - t0)
    return best / (bodies * 100) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="the best of these is shown")
    args = parser.parse_args()
    print(f"machine probe: {probe(args.rounds):.2f} µs per event (lower is faster)")


if __name__ == "__main__":
    main()
