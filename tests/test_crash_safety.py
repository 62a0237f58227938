"""Acknowledged means durable: kill the server with SIGKILL right after the acks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.conftest import OWNER_KEY, free_port


def start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AGENTLYTICS_API_KEY": OWNER_KEY}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentlytics",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
    raise AssertionError("server did not start")


def usage(port: int, project_id: str) -> int:
    r = httpx.get(
        f"http://127.0.0.1:{port}/projects/{project_id}", headers={"X-API-Key": OWNER_KEY}
    )
    return int(r.json()["usage_today"])


def test_every_acknowledged_event_survives_sigkill_exactly_once(tmp_path: Path) -> None:
    port = free_port()
    proc = start(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    try:
        p = httpx.post(
            base + "/projects", json={"name": "crash"}, headers={"X-API-Key": OWNER_KEY}
        ).json()
        ids = [uuid.uuid4().hex for _ in range(400)]

        def send(chunk: list[str]) -> int:
            acked = 0
            with httpx.Client(base_url=base) as c:
                for event_id in chunk:
                    r = c.post(
                        "/track", json={"token": p["project_token"], "event": "e", "id": event_id}
                    )
                    acked += r.status_code == 202
            return acked

        with ThreadPoolExecutor(8) as pool:
            acked = sum(pool.map(send, [ids[i::8] for i in range(8)]))
        batch = [{"event": "b", "id": i} for i in ids[:50]]  # retries of acknowledged events
        httpx.post(base + "/track/batch", json={"token": p["project_token"], "events": batch})
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert acked == 400
    proc = start(tmp_path, port)
    try:
        assert usage(port, p["id"]) == 400
        r = httpx.post(base + "/track/batch", json={"token": p["project_token"], "events": batch})
        assert r.status_code == 202
        assert usage(port, p["id"]) == 400, "retries after a restart are still deduplicated"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode in (0, -signal.SIGTERM), out.decode()


def test_sigterm_commits_and_exits_cleanly(tmp_path: Path) -> None:
    port = free_port()
    proc = start(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    p = httpx.post(
        base + "/projects", json={"name": "term"}, headers={"X-API-Key": OWNER_KEY}
    ).json()
    for _ in range(20):
        httpx.post(base + "/track", json={"token": p["project_token"], "event": "e"})
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode in (0, -signal.SIGTERM)
    text = out.decode()
    assert f"http://127.0.0.1:{port}" in text and str(tmp_path) in text, (
        "says where it listens and keeps data"
    )
    assert not list(tmp_path.glob("*.wal")), "the WAL is checkpointed on a clean stop"
    import duckdb

    con = duckdb.connect(str(tmp_path / "events.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM events").fetchone() == (20,)
