"""Acknowledged means durable: kill the server with SIGKILL right after the acks."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import httpx
import msgspec
import pytest

from agentlytics.model.event import EVENT_COLUMNS, Event
from agentlytics.storage.duckdb import frames
from agentlytics.storage.journal import HEADER_SIZE, Journal, seed
from tests.conftest import OWNER_KEY, free_port

EVENT_ID = EVENT_COLUMNS.index("event_id")


def start(
    data_dir: Path, port: int, lap_bytes: int | None = None, **settings: str
) -> subprocess.Popen[bytes]:
    """``agentlytics serve`` in a process of its own; ``lap_bytes``: its journal's laps
    this long (``storage/journal.LAP_BYTES``), so that a test goes round them."""
    env = {**os.environ, "AGENTLYTICS_API_KEY": OWNER_KEY, **settings}
    laps = f"journal.LAP_BYTES = {lap_bytes}; " if lap_bytes else ""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from agentlytics.storage import journal; {laps}"
            "import sys; from agentlytics.cli import main; sys.argv[0] = 'agentlytics'; main()",
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


def new_project(base: str, name: str) -> dict[str, str]:
    r = httpx.post(base + "/projects", json={"name": name}, headers={"X-API-Key": OWNER_KEY})
    assert r.status_code == 201, r.text
    return dict(r.json())


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
        p = new_project(base, "crash")
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
    p = new_project(base, "term")
    for _ in range(20):
        r = httpx.post(base + "/track", json={"token": p["project_token"], "event": "e"})
        assert r.status_code == 202, r.text
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


def test_events_still_in_the_journal_survive_sigkill_and_a_torn_frame(tmp_path: Path) -> None:
    """Acknowledged events wait in the ingest journal before they move into DuckDB; a crash
    in between loses none, and a frame cut short by the crash (never acknowledged) is
    dropped without taking the others with it."""
    port = free_port()
    # nothing is moved into DuckDB on its own for ten minutes (and nothing is read below)
    proc = start(tmp_path, port, AGENTLYTICS_JOURNAL_APPLY_MS="600000")
    base = f"http://127.0.0.1:{port}"
    try:
        p = new_project(base, "journal")
        token = p["project_token"]
        batches = [[{"event": "b", "id": f"b{i}-{j}"} for i in range(75)] for j in range(2)]
        for batch in batches:
            r = httpx.post(base + "/track/batch", json={"token": token, "events": batch})
            assert r.status_code == 202 and r.json()["count"] == 75
        for i in range(10):
            r = httpx.post(base + "/track", json={"token": token, "event": "s", "id": f"s{i}"})
            assert r.status_code == 202
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    journal = tmp_path / "events.duckdb.journal"
    j = Journal(journal)
    found = list(j.frames(j.start, HEADER_SIZE))
    j.close()
    sent = [e["id"] for batch in batches for e in batch] + [f"s{i}" for i in range(10)]
    journalled = [row[EVENT_ID] for _, payload in found for row in frames.decode(payload)[0]]
    assert sorted(journalled) == sorted(sent), "the acknowledged events wait in the journal"
    (_, end), _ = found[-1]
    with open(journal, "r+b") as f:  # what a write cut short by the kill leaves behind
        f.seek(end)
        f.write(b"\x40\x00\x00\x00\x01\x02\x03\x04partial")
    proc = start(tmp_path, port)
    try:
        assert usage(port, p["id"]) == len(sent)
        r = httpx.post(base + "/track/batch", json={"token": token, "events": batches[1]})
        assert r.status_code == 202
        assert usage(port, p["id"]) == len(sent), "retries of journalled events are deduplicated"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode in (0, -signal.SIGTERM), out.decode()
    assert "cut short" in out.decode(), "the torn frame is reported"
    assert journal.stat().st_size <= 64, "a clean stop leaves the journal empty"


def test_a_read_right_after_the_acknowledgement_sees_the_event(tmp_path: Path) -> None:
    port = free_port()
    proc = start(tmp_path, port, AGENTLYTICS_JOURNAL_APPLY_MS="600000")
    base = f"http://127.0.0.1:{port}"
    try:
        p = new_project(base, "read")
        for n in range(1, 4):
            r = httpx.post(base + "/track", json={"token": p["project_token"], "event": "e"})
            assert r.status_code == 202
            assert usage(port, p["id"]) == n
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def first_frame_lap(journal: Path) -> int | None:
    """The lap of the frame at the start of ``journal``'s first lap (each lap's checksums are
    seeded with its number; a wrap writes the next lap's first frame there); None while no
    whole frame is there."""
    with journal.open("rb") as f:
        head = f.read(HEADER_SIZE + 8)
        if len(head) < HEADER_SIZE + 8:
            return None
        first = struct.unpack("<4sHxxQ", head[:HEADER_SIZE])[2]
        length, crc = struct.unpack("<II", head[HEADER_SIZE:])
        payload = f.read(length)
    if not length or len(payload) < length:
        return None
    return next(
        (lap for lap in range(first, first + 1000) if zlib.crc32(payload, seed(2, lap)) == crc),
        None,
    )


def wal_changes(path: Path) -> Callable[[], int]:
    """How many times DuckDB's WAL beside ``path`` changed size since this was made (each
    commit of an apply appends to it; a checkpoint empties it)."""
    wal = path.with_name(path.name + ".wal")
    sizes = [wal.stat().st_size if wal.exists() else -1]

    def changes() -> int:
        size = wal.stat().st_size if wal.exists() else -1
        if size != sizes[-1]:
            sizes.append(size)
        return len(sizes) - 1

    return changes


@pytest.mark.parametrize("lap_bytes", [None, 40_000], ids=["one lap", "many laps"])
def test_sigkill_while_the_journal_is_being_applied_loses_nothing(
    tmp_path: Path, lap_bytes: int | None
) -> None:
    """The journal is applied to DuckDB in a thread of its own while the writer goes on
    acknowledging: a kill while applies go on (every 10 ms here) loses no acknowledged
    event and stores none twice, also with the journal going round laps of 40 KB (new
    frames over applied ones). Clients send until applies were seen to commit (the WAL
    grew), or until the journal went round three laps, then the server is killed."""
    port = free_port()
    proc = start(
        tmp_path,
        port,
        lap_bytes,
        AGENTLYTICS_JOURNAL_APPLY_MS="10",
        AGENTLYTICS_INGEST_RATE_LIMIT="0",
    )
    base = f"http://127.0.0.1:{port}"
    database, journal = tmp_path / "events.duckdb", tmp_path / "events.duckdb.journal"
    started_at = struct.unpack("<4sHxxQ", journal.read_bytes()[:HEADER_SIZE])[2]
    enough = threading.Event()
    try:
        p = new_project(base, "applying")
        applies = wal_changes(database)

        def send(worker: int) -> int:
            acked = 0
            with httpx.Client(base_url=base) as c:
                n = 0
                while not enough.is_set():
                    batch = [{"event": "b", "id": f"{worker}-{n}-{i}"} for i in range(100)]
                    r = c.post("/track/batch", json={"token": p["project_token"], "events": batch})
                    assert r.status_code == 202, r.text
                    acked += r.json()["count"]
                    n += 1
            return acked

        def done() -> bool:
            if lap_bytes:  # a wrap to lap L waits for the apply to reach lap L - 1
                lap = first_frame_lap(journal)
                return lap is not None and lap >= started_at + 3
            return applies() >= 3

        with ThreadPoolExecutor(4) as pool:
            sent = [pool.submit(send, worker) for worker in range(4)]
            try:
                deadline = time.monotonic() + 60
                while not done():
                    assert time.monotonic() < deadline, "the journal was not applied while sent to"
                    assert not any(f.done() for f in sent), [f.exception() for f in sent]
                    time.sleep(0.005)
            finally:
                enough.set()
            acked = sum(f.result() for f in sent)
        wrapped_to = first_frame_lap(journal)
    finally:
        enough.set()
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    if lap_bytes:
        assert wrapped_to is not None and wrapped_to >= started_at + 3
        with duckdb.connect(str(database), read_only=True) as con:
            [(lap,)] = con.execute("SELECT generation FROM journal_state").fetchall()
        assert lap >= wrapped_to - 1, "the applies that let the journal wrap are committed"
    proc = start(tmp_path, port)
    try:
        assert usage(port, p["id"]) == acked
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode in (0, -signal.SIGTERM), out.decode()


def test_a_journal_of_the_previous_formats_is_applied_at_start(tmp_path: Path) -> None:
    """A journal of format 1 (no laps) holding frames of ``Event``s (before the journal held
    rows), left by a crash of an older release, is still applied after an upgrade; a clean
    stop leaves an empty journal of format 1, which older releases read too."""
    port = free_port()
    proc = start(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    try:
        p = new_project(base, "upgrade")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    journal = tmp_path / "events.duckdb.journal"
    header = journal.read_bytes()
    assert len(header) == HEADER_SIZE and struct.unpack("<4sH", header[:6]) == (b"AGLJ", 1)
    now = int(time.time() * 1000)
    events = [
        Event(project_id=p["id"], event_id=f"old-{i}", name="e", timestamp=now, received_at=now)
        for i in range(3)
    ]
    frame = msgspec.msgpack.encode((events, []))
    journal.write_bytes(header + struct.pack("<II", len(frame), zlib.crc32(frame)) + frame)
    proc = start(tmp_path, port)
    try:
        assert usage(port, p["id"]) == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
