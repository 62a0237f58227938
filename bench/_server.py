"""A real ``agentlytics serve`` subprocess on loopback, for the benchmarks.

The server runs in its own process with its own data directory; the benchmarks talk to it
over HTTP only. It always stops: on exit of the ``with`` block, by SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BENCH_KEY = "aak_bench_owner_key_0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    port: int
    pid: int
    key: str = BENCH_KEY

    def client(self, timeout: float = 60) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": self.key}, timeout=timeout)

    def create_project(self, name: str) -> dict[str, Any]:
        with self.client() as c:
            r = c.post("/projects", json={"name": name})
            r.raise_for_status()
            return dict(r.json())


@contextmanager
def running_server(
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    start_timeout: float = 120,
    log: Path | None = None,
    src: Path | None = None,
) -> Iterator[Server]:
    """Start ``agentlytics serve`` on 127.0.0.1 and a free port; stop it afterwards.

    ``src`` runs the server from another source tree (its ``src`` directory), for A/B runs
    against an older commit: ``git archive <rev> | tar -x -C /tmp/base``.
    """
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AGENTLYTICS_")},
        "AGENTLYTICS_API_KEY": BENCH_KEY,
        "AGENTLYTICS_INGEST_RATE_LIMIT": "0",
        "AGENTLYTICS_LOG_LEVEL": "warning",
        **(env or {}),
    }
    if src is not None:
        full_env["PYTHONPATH"] = str(src.resolve())
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentlytics",
            "serve",
            "--data-dir",
            str(data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=full_env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode} (log: {log})")
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start in time")
            time.sleep(0.1)
        yield Server(url=url, port=port, pid=proc.pid)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if log:
            out.close()  # type: ignore[union-attr]
