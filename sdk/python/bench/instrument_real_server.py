"""Does `instrument()` add latency to a tool call? Measured against a real agentlytics server.

Three copies of the same MCP server (one tool, `echo`) run as separate processes, as MCP
servers do in production, and a real `mcp` client in this process calls them back to back:

- plain:        not instrumented;
- plain again:  not instrumented either, an A/A control: its difference from `plain` is
                the noise floor of the measurement;
- instrumented: `instrument(server)` with the default client, delivering every call to a
                real `agentlytics serve` (a fourth process, on loopback, with its own data
                directory) while the calls are being measured.

Rounds are interleaved (plain, plain again, instrumented, plain, ...) so that drift on the
machine hits all three alike. The script prints client-observed latency per call for stdio
and for streamable HTTP, the instrumented server's difference from `plain` next to the A/A
difference, and checks through `POST /query` that the server stored every instrumented call.

    .venv/bin/python sdk/python/bench/instrument_real_server.py [--calls 500] [--rounds 7]

Needs the repository's environment (the `agentlytics` server, `mcp`, `uvicorn`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
from mcp import Client as McpClient
from mcp import StdioServerParameters
from mcp_types import Implementation

OWNER_KEY = "aak_bench_owner_key_0123456789"
NAMES = ("plain", "plain again", "instrumented")
CLIENT_INFO = Implementation(name="bench-client", version="1")


def serve_mcp(kind: str, transport: str, port: int) -> None:
    """The MCP server process: `echo`, instrumented or not, over stdio or streamable HTTP."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("bench")

    @server.tool()
    def echo(text: str) -> str:
        return text

    if kind == "instrumented":
        from agentlytics_sdk.mcp import instrument

        instrument(server)  # AGENTLYTICS_WRITE_KEY / AGENTLYTICS_URL
    if transport == "stdio":
        server.run("stdio")
    else:
        import uvicorn

        app = server.streamable_http_app()
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_listening(port: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
            return
        if child.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"process {child.args!r} did not start listening on {port}")
        time.sleep(0.05)


@contextlib.contextmanager
def process(args: list[str], port: int, env: dict[str, str]) -> Iterator[None]:
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_until_listening(port, child)
        yield
    finally:
        child.terminate()
        child.wait(30)


@contextlib.contextmanager
def agentlytics_server() -> Iterator[tuple[str, str]]:
    """`agentlytics serve` on loopback with a fresh data dir; yields (url, project write key)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        # ~100 calls a second is over the default 1000 events/min per project: the SDK would
        # back off on 429 and, after its retries, drop the excess.
        env = {**os.environ, "AGENTLYTICS_API_KEY": OWNER_KEY, "AGENTLYTICS_INGEST_RATE_LIMIT": "0"}
        args = [sys.executable, "-m", "agentlytics", "serve", "--data-dir", data_dir]
        with process([*args, "--port", str(port), "--log-level", "warning"], port, env):
            url = f"http://127.0.0.1:{port}"
            answer = httpx.post(
                url + "/projects", json={"name": "bench"}, headers={"X-API-Key": OWNER_KEY}
            )
            answer.raise_for_status()
            yield url, str(answer.json()["project_token"])


def server_env(url: str, write_key: str) -> dict[str, str]:
    return {**os.environ, "AGENTLYTICS_URL": url, "AGENTLYTICS_WRITE_KEY": write_key}


@contextlib.asynccontextmanager
async def connect(transport: str, kind: str, env: dict[str, str]) -> AsyncIterator[McpClient]:
    me = os.path.abspath(__file__)
    if transport == "stdio":
        params = StdioServerParameters(
            command=sys.executable, args=[me, "--serve", kind, "--transport", "stdio"], env=env
        )
        async with McpClient(params, mode="legacy", client_info=CLIENT_INFO) as client:
            yield client
        return
    port = free_port()
    args = [sys.executable, me, "--serve", kind, "--transport", "http", "--port", str(port)]
    with process(args, port, env):
        url = f"http://127.0.0.1:{port}/mcp"
        async with McpClient(url, mode="legacy", client_info=CLIENT_INFO) as client:
            yield client


async def measure(
    transport: str, env: dict[str, str], calls: int, rounds: int
) -> dict[str, list[float]]:
    """Per-call latency in microseconds for each server, over interleaved rounds."""
    samples: dict[str, list[float]] = {name: [] for name in NAMES}
    async with contextlib.AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(connect(transport, name, env)) for name in NAMES
        }
        for client in clients.values():  # warm up: sessions, imports, connections
            for _ in range(50):
                await client.call_tool("echo", {"text": "warm"})
        for _ in range(rounds):
            for name, client in clients.items():
                for _ in range(calls):
                    started = time.perf_counter()
                    await client.call_tool("echo", {"text": "hi"})
                    samples[name].append((time.perf_counter() - started) * 1e6)
    return samples


def summary(latencies: list[float]) -> tuple[float, float, float, float]:
    ordered = sorted(latencies)
    return (
        statistics.median(ordered),
        ordered[int(len(ordered) * 0.9)],
        ordered[int(len(ordered) * 0.99)],
        statistics.fmean(ordered),
    )


def stored_calls(url: str) -> int:
    answer = httpx.post(
        url + "/query",
        json={"project": "bench", "metrics": ["call_count"], "date_from": "1d"},
        headers={"X-API-Key": OWNER_KEY},
    )
    answer.raise_for_status()
    return int(answer.json()["rows"][0]["call_count"] or 0)


def report(transport: str, samples: dict[str, list[float]]) -> None:
    base = summary(samples["plain"])
    print(f"\n{transport}: {len(samples['plain'])} calls per server, microseconds per call")
    print(f"{'':22} {'p50':>9} {'p90':>9} {'p99':>9} {'mean':>9}")
    for name in NAMES:
        row = summary(samples[name])
        print(f"{name:22} " + " ".join(f"{v:9.1f}" for v in row))
    for name in NAMES[1:]:
        delta = [v - b for v, b in zip(summary(samples[name]), base, strict=True)]
        label = f"{name} - plain"
        print(f"{label:22} " + " ".join(f"{v:+9.1f}" for v in delta))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=500, help="calls per server and round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--transport", choices=["stdio", "http", "both"], default="both")
    parser.add_argument("--serve", choices=NAMES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_mcp(args.serve, args.transport, args.port)
        return

    transports = ["stdio", "http"] if args.transport == "both" else [args.transport]
    results: dict[str, Any] = {}
    with agentlytics_server() as (url, write_key):
        env = server_env(url, write_key)
        for transport in transports:
            results[transport] = anyio.run(measure, transport, env, args.calls, args.rounds)
        # The instrumented servers flushed at exit; every call (warm-up included) is stored.
        expected = len(transports) * (args.rounds * args.calls + 50)
        deadline = time.monotonic() + 30
        while (stored := stored_calls(url)) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    for transport, samples in results.items():
        report(transport, samples)
    print(f"\nagentlytics stored {stored} of {expected} instrumented calls")


if __name__ == "__main__":
    main()
