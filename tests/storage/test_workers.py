"""Stateless workers on the scale-out backends: PostgreSQL, Redis, and ClickHouse.

Every ``serve`` process here is a real one. They share chDB through ClickHouse's HTTP interface
(``chdb_http.py``), since chDB allows one process per data directory; PostgreSQL and Redis are
the loopback servers.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import OWNER_KEY, free_port
from tests.query.test_live import sse
from tests.storage import backends
from tests.storage.chdb_http import ChdbHttpServer

pytestmark = pytest.mark.scaleout

START_S = 60.0
RATE_LIMIT = 400  # events per minute per project, for both processes together


@pytest.fixture(scope="module")
def chdb_http() -> Iterator[ChdbHttpServer]:
    server = ChdbHttpServer(backends.CHDB_DIR)
    yield server
    server.close()


class Backends:
    def __init__(self, chdb: ChdbHttpServer, database: str, meta: str, coord: str) -> None:
        self.chdb = chdb
        self.database = database
        self.env = {
            "AGENTLYTICS_EVENTS": chdb.url(database),
            "AGENTLYTICS_META": meta,
            "AGENTLYTICS_COORD": coord,
        }

    def event_ids(self, project_id: str) -> list[str]:
        body, _ = self.chdb.execute(
            "SELECT event_id FROM events WHERE project_id = {p:String} FORMAT TSV",
            b"",
            self.database,
            {"param_p": project_id},
        )
        return body.decode().split()


@contextlib.contextmanager
def scaleout_backends(chdb: ChdbHttpServer) -> Iterator[Backends]:
    database = backends.unique("w")
    with backends.postgres_database() as meta, backends.redis_namespace() as coord:
        yield Backends(chdb, database, meta, coord)
    chdb.execute(f"DROP DATABASE IF EXISTS {database} SYNC", b"", None, {})


@pytest.fixture
def scaleout(chdb_http: ChdbHttpServer) -> Iterator[Backends]:
    with scaleout_backends(chdb_http) as b:
        yield b


class Serve:
    """One ``agentlytics serve`` process; its output goes to a file."""

    def __init__(self, tmp: Path, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"serve-{self.port}.log"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AGENTLYTICS_")}
        environ = {**inherited, "AGENTLYTICS_DATA_DIR": str(tmp / "data"), **env}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "agentlytics", "serve", "--port", str(self.port), *args],
                env=environ,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_S
        while True:
            assert self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, "server did not start:\n" + self.output()
            try:
                if httpx.get(self.url + "/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    started: list[Serve] = []

    def start(env: dict[str, str], *args: str) -> Serve:
        started.append(Serve(tmp_path, env, *args))
        return started[-1]

    yield start
    for server in started:
        server.stop()


class Pair:
    """Two ``serve`` processes on the same backends, as behind a load balancer; one that was
    killed is started again when next used."""

    def __init__(self, tmp: Path, backends: Backends) -> None:
        self.tmp = tmp
        self.backends = backends
        self.env = {
            **backends.env,
            "AGENTLYTICS_API_KEY": OWNER_KEY,
            "AGENTLYTICS_INGEST_RATE_LIMIT": str(RATE_LIMIT),
            # the provisioning race below provisions more than those limits allow
            "AGENTLYTICS_PROVISION_RATE_GLOBAL": "0",
            "AGENTLYTICS_PROVISION_RATE_PER_IP": "0",
        }
        self.servers = [Serve(tmp, self.env), Serve(tmp, self.env)]

    def __getitem__(self, index: int) -> Serve:
        if self.servers[index].proc.poll() is not None:
            self.servers[index] = Serve(self.tmp, self.env)
        return self.servers[index]


@pytest.fixture(scope="module")
def pair(chdb_http: ChdbHttpServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with scaleout_backends(chdb_http) as b:
        servers = Pair(tmp_path_factory.mktemp("pair"), b)
        yield servers
        for server in servers.servers:
            server.stop()


def new_project(url: str, key: str = OWNER_KEY) -> dict[str, Any]:
    r = httpx.post(
        url + "/projects",
        json={"name": f"p-{uuid.uuid4().hex[:10]}"},
        headers={"X-API-Key": key},
    )
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def test_serve_refuses_workers_on_embedded_backends(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agentlytics", "serve", "--workers", "2"],
        env={**os.environ, "AGENTLYTICS_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "DuckDB, SQLite, memory:// belong to one process" in result.stderr


def test_the_rate_limit_holds_across_two_serve_processes(pair: Pair) -> None:
    batches = RATE_LIMIT // 10 + 4
    for _attempt in range(3):  # a run that straddles a minute boundary sees two windows
        project = new_project(pair[0].url)
        window = int(time.time() // 60)
        statuses = []
        with httpx.Client() as client:
            for i in range(batches):
                batch = [{"event": "e", "id": f"{i}-{n}"} for n in range(10)]
                r = client.post(
                    pair[i % 2].url + "/track/batch",
                    json={"token": project["project_token"], "events": batch},
                )
                statuses.append(r.status_code)
        if int(time.time() // 60) == window:
            break
    assert statuses == [202] * (batches - 4) + [429] * 4
    assert len(pair.backends.event_ids(project["id"])) == RATE_LIMIT


def test_the_read_rate_limit_holds_across_two_serve_processes(
    scaleout: Backends, serve: Callable[..., Serve]
) -> None:
    env = {**scaleout.env, "AGENTLYTICS_API_KEY": OWNER_KEY, "AGENTLYTICS_READ_RATE_LIMIT": "6"}
    servers = [serve(env), serve(env)]
    project = new_project(servers[0].url)
    for _attempt in range(3):  # a run that straddles a minute boundary sees two windows
        window = int(time.time() // 60)
        with httpx.Client(headers={"X-API-Key": OWNER_KEY}) as client:
            statuses = [
                client.get(servers[i % 2].url + "/stats", params={"project": project["id"]})
                for i in range(10)
            ]
        if int(time.time() // 60) == window:
            break
        time.sleep(61 - time.time() % 60)  # the next attempt starts in a fresh window
    assert [r.status_code for r in statuses] == [200] * 6 + [429] * 4
    assert all(1 <= int(r.headers["Retry-After"]) <= 60 for r in statuses[6:])
    assert statuses[-1].json()["reason"] == "rate_limit"


def test_provisioning_one_slug_through_two_processes_at_once_makes_one_project(
    pair: Pair,
) -> None:
    """An agent's retries can land on two workers; each must answer the same project."""
    slugs = [f"race-{uuid.uuid4().hex[:8]}" for _ in range(10)]
    urls = [pair[0].url, pair[1].url]

    def provision(i: int) -> tuple[str, int, dict[str, Any]]:
        slug = slugs[i // 8]
        r = httpx.post(
            urls[i % 2] + "/api/provision",
            json={"name": "race", "deploymentSlug": slug},
            timeout=30,
        )
        return slug, r.status_code, r.json()

    with ThreadPoolExecutor(8) as pool:  # eight at once per slug, half through each process
        answers = list(pool.map(provision, range(8 * len(slugs))))
    assert {status for _, status, _ in answers} == {200}, answers
    keys = {slug: {body["writeKey"] for s, _, body in answers if s == slug} for slug in slugs}
    assert all(len(k) == 1 for k in keys.values()), f"one project per slug: {keys}"


def test_a_stream_on_one_process_sees_events_ingested_through_another(pair: Pair) -> None:
    a, b = pair[0], pair[1]
    project = new_project(b.url)
    stop = threading.Event()

    def ingest_through_b() -> None:
        with httpx.Client() as client:
            n = 0
            while not stop.wait(0.1):
                n += 1
                body = {"token": project["project_token"], "event": "ping", "id": f"ping-{n}"}
                client.post(b.url + "/track", json=body)

    pinger = threading.Thread(target=ingest_through_b)
    params = {"project": project["name"], "key": OWNER_KEY}
    try:
        with httpx.stream("GET", a.url + "/stream", params=params, timeout=20) as r:
            pinger.start()
            frames = (f for f in sse(r.iter_lines()) if f.get("event") == "track")
            first = next(frames)
    finally:
        stop.set()
        if pinger.is_alive():
            pinger.join()
    assert first["data"]["event"] == "ping"
    r = httpx.post(
        a.url + "/track",
        json={"token": project["project_token"], "event": "after", "id": "after"},
    )
    assert r.status_code == 202
    # B resumes after the id A handed out, from the shared stream
    with httpx.stream(
        "GET", b.url + "/stream", params=params, headers={"Last-Event-ID": first["id"]}, timeout=20
    ) as r:
        replayed = []
        for frame in sse(r.iter_lines()):
            if frame.get("event") == "track":
                replayed.append(frame)
                if frame["data"]["event"] == "after":
                    break
    assert all(stream_order(f["id"]) > stream_order(first["id"]) for f in replayed)


def stream_order(event_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in event_id.split("-"))


def send_until_acked(
    urls: list[str], token: str, ids: list[str], kill: Callable[[], None], kill_after: int
) -> list[str]:
    """Send each id as one event, round robin, retrying elsewhere on a failure (as a client
    behind a load balancer would); ``kill`` runs once ``kill_after`` events were acked."""
    acked: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()

    def send(chunk: list[str]) -> None:
        with httpx.Client(timeout=30) as client:
            for n, event_id in enumerate(chunk):
                for attempt in range(len(urls) * 3):
                    url = urls[(n + attempt) % len(urls)]
                    try:
                        r = client.post(
                            url + "/track", json={"token": token, "event": "e", "id": event_id}
                        )
                    except httpx.TransportError:
                        continue
                    if r.status_code == 202:
                        with lock:
                            acked.append(event_id)
                            due = len(acked) >= kill_after and not killed.is_set()
                            if due:
                                killed.set()
                        if due:
                            kill()
                        break

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, [ids[i::8] for i in range(8)]))
    return acked


def test_no_acknowledged_event_is_lost_when_a_process_is_killed(pair: Pair) -> None:
    a, b = pair[0], pair[1]
    project = new_project(a.url)
    ids = [uuid.uuid4().hex for _ in range(RATE_LIMIT // 4)]
    acked = send_until_acked([a.url, b.url], project["project_token"], ids, a.kill, len(ids) // 3)
    assert a.proc.returncode == -signal.SIGKILL
    assert len(set(acked)) == len(acked) == len(ids), "every event was acked once, by A or B"
    stored = pair.backends.event_ids(project["id"])
    assert sorted(stored) == sorted(ids), "every acknowledged event, each exactly once"
    # clients retrying everything through the survivor store nothing twice
    with httpx.Client() as client:
        for start in range(0, len(ids), 100):
            batch = [{"event": "e", "id": i} for i in ids[start : start + 100]]
            r = client.post(
                b.url + "/track/batch", json={"token": project["project_token"], "events": batch}
            )
            assert r.status_code == 202
    assert len(pair.backends.event_ids(project["id"])) == len(ids)


def worker_pids(pid: int) -> list[int]:
    """uvicorn's worker processes under ``pid`` (not multiprocessing's resource tracker)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [int(c) for c in path.read_text().split()]
    return [p for p in pids if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]


def test_workers_flag_bootstraps_once_and_survives_a_killed_worker(
    scaleout: Backends, serve: Callable[..., Serve]
) -> None:
    server = serve({**scaleout.env, "AGENTLYTICS_INGEST_RATE_LIMIT": "0"}, "--workers", "2")
    keys = re.findall(r"Owner API key \(shown once, store it now\): (\S+)", server.output())
    assert len(keys) == 1, server.output()
    project = new_project(server.url, keys[0])
    deadline = time.monotonic() + START_S
    while len(workers := worker_pids(server.proc.pid)) < 2:
        assert time.monotonic() < deadline, "uvicorn did not start two workers"
        time.sleep(0.05)

    def kill_one_worker() -> None:
        os.kill(workers[0], signal.SIGKILL)

    ids = [uuid.uuid4().hex for _ in range(200)]
    acked = send_until_acked([server.url], project["project_token"], ids, kill_one_worker, 50)
    assert sorted(acked) == sorted(ids)
    assert sorted(scaleout.event_ids(project["id"])) == sorted(ids)
    deadline = time.monotonic() + START_S
    while len(now := worker_pids(server.proc.pid)) < 2 or workers[0] in now:
        assert time.monotonic() < deadline, "uvicorn did not replace the killed worker"
        time.sleep(0.05)
    assert server.stop() == 0, server.output()
