"""Per-call cost of `instrument()` on an MCP server, measured in-process.

Drives the same trivial tool through the real `mcp` client (in memory, both protocol eras),
back to back, on three `MCPServer`s, interleaving rounds:

- plain: not instrumented;
- instrumented: events go through a real `Client` and its consumer thread, over HTTP, to a
  minimal ingest stub (answering 202) in a child process on loopback;
- delivery off: instrumented, but the client is disabled, so this is the request path alone
  (the middleware, minus the enqueue that `Client.track()` below measures).

It prints client-observed latency per call (p50, p99, mean) and process CPU per call (all
threads, so the consumer's encoding and HTTP count). In memory and back to back is the worst
case for the ratio: over stdio or HTTP a call costs far more, and the consumer has idle time.

    python sdk/python/bench/instrument_overhead.py [--calls 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import anyio
from mcp import Client as McpClient
from mcp.server.mcpserver import MCPServer
from mcp_types import Implementation

from agentlytics_sdk import Client
from agentlytics_sdk.mcp import instrument


def build() -> MCPServer:
    server = MCPServer("bench")

    @server.tool()
    def echo(text: str) -> str:
        return text

    return server


STUB = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def accept(request):
    body = await request.json()
    return JSONResponse({"ok": True, "queued": True, "count": len(body["events"])}, 202)

app = Starlette(routes=[Route("/track/batch", accept, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


@contextlib.contextmanager
def ingest_stub() -> Iterator[str]:
    """A child process answering `POST /track/batch` with 202; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    child = subprocess.Popen([sys.executable, "-c", STUB, str(port)])
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("ingest stub did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        child.wait(10)


async def call_latencies_us(server: MCPServer, mode: str, calls: int) -> tuple[list[float], float]:
    """Client-observed latency of each of `calls` tool calls, and the process CPU per call
    (all threads, so the consumer's work counts), in microseconds."""
    info = Implementation(name="bench-client", version="1")
    latencies: list[float] = []
    async with McpClient(server, mode=mode, client_info=info) as client:
        for _ in range(50):  # warm up: sessions, caches, the consumer thread
            await client.call_tool("echo", {"text": "hi"})
        cpu = time.process_time()
        for _ in range(calls):
            started = time.perf_counter()
            await client.call_tool("echo", {"text": "hi"})
            latencies.append((time.perf_counter() - started) * 1e6)
        cpu = time.process_time() - cpu
    return latencies, cpu / calls * 1e6


def summary(latencies: list[float]) -> tuple[float, float, float]:
    """Median, 99th percentile and mean."""
    ordered = sorted(latencies)
    return (
        statistics.median(ordered),
        ordered[int(len(ordered) * 0.99)],
        statistics.fmean(ordered),
    )


async def request_path_us(sink: Client, calls: int) -> float:
    """The instrumentation's own cost per tools/call: its middleware around a no-op handler.

    A real request context is captured from one call; then the middleware `instrument()`
    appended (the last in `server.middleware`) wraps a `call_next` that answers at once, and
    the time of a bare `call_next` is subtracted. Includes the enqueue, not the delivery.
    """
    server = build()
    seen: list[Any] = []

    async def keep_context(ctx: Any, call_next: Any) -> Any:
        if ctx.method == "tools/call":
            seen.append(ctx)
        return await call_next(ctx)

    server.middleware.append(keep_context)
    instrument(server, client=sink)
    middleware = server.middleware[-1]
    await call_latencies_us(server, "auto", 1)
    ctx = seen[-1]
    answer = {"content": [{"type": "text", "text": "hi"}], "isError": False}

    async def handler(ctx: Any) -> Any:
        return answer

    started = time.perf_counter()
    for _ in range(calls):
        await handler(ctx)
    bare = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(calls):
        await middleware(ctx, handler)
    wrapped = time.perf_counter() - started
    return (wrapped - bare) / calls * 1e6


def track_us(client: Client, calls: int) -> float:
    started = time.perf_counter()
    for i in range(calls):
        client.track("bench", "user", {"i": i})
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    errors: list[BaseException] = []
    with ingest_stub() as url:
        sink = Client(
            "aat_bench", url, max_queue_size=1_000_000, on_error=lambda e, _: errors.append(e)
        )
        servers = {
            "plain": build(),
            "instrumented": instrument(build(), client=sink),
            # The request path alone: the middleware runs, the client drops the event.
            "  delivery off": instrument(build(), client=Client("aat_bench", disabled=True)),
        }
        results: dict[str, dict[str, tuple[list[float], float]]] = {}
        for mode in ("auto", "legacy"):
            samples: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in servers}
            for _ in range(args.rounds):  # interleave, so drift on the machine hits all alike
                for name, server in servers.items():
                    latencies, cpu = anyio.run(call_latencies_us, server, mode, args.calls)
                    samples[name][0].extend(latencies)
                    samples[name][1].append(cpu)
            results[mode] = {
                n: (lat, statistics.median(cpus)) for n, (lat, cpus) in samples.items()
            }
        track = statistics.median(track_us(sink, args.calls) for _ in range(args.rounds))
        path = statistics.median(
            anyio.run(request_path_us, sink, args.calls) for _ in range(args.rounds)
        )
        assert sink.flush(timeout=60)
        sink.shutdown()
    assert not errors, errors[:3]

    print(f"tools/call, {args.calls} calls x {args.rounds} rounds each, in microseconds")
    print(f"{'protocol':26} {'':14} {'p50':>8} {'p99':>8} {'mean':>8} {'CPU/call':>9}")
    for mode, runs in results.items():
        era = "2026-07-28 (no handshake)" if mode == "auto" else "2025-11-25 (handshake)"
        b50, b99, bmean = summary(runs["plain"][0])
        b_cpu = runs["plain"][1]
        for name, (latencies, cpu) in runs.items():
            p50, p99, mean = summary(latencies)
            label = era if name == "plain" else ""
            print(f"{label:26} {name:14} {p50:8.1f} {p99:8.1f} {mean:8.1f} {cpu:9.1f}")
            if name != "plain":
                print(
                    f"{'':26} {'  overhead':14} {p50 - b50:+8.1f} {p99 - b99:+8.1f}"
                    f" {mean - bmean:+8.1f} {cpu - b_cpu:+9.1f}   ({p50 / b50 - 1:+.1%} at p50)"
                )
    print(f"instrumentation on the request path: {path:.2f} us per tools/call (incl. enqueue)")
    print(f"Client.track(): {track:.2f} us per call (the enqueue; delivery is on the consumer)")


if __name__ == "__main__":
    main()
