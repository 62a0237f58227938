from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import redis

from agentlytics.app import _salt_store
from agentlytics.ingest.privacy import SALT_BYTES, VisitorHasher, client_ip
from agentlytics.settings import load_settings
from agentlytics.storage import registry
from tests.conftest import start_server
from tests.factories import CHROME_UA
from tests.storage import backends

UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.4.1"
DAY1 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)


class SaltTable:
    """The server's salt store (``app._salt_store``) on a real SQLite metadata store, counting
    its loads and saves."""

    def __init__(self, path: Path) -> None:
        self.meta = registry.open_meta_store(
            load_settings({"meta": f"sqlite:///{path}"}, environ={})
        )
        self._load, self._save = _salt_store(self.meta)
        self.loads = 0
        self.saves = 0

    @property
    def rows(self) -> dict[str, bytes]:
        return self._load()

    def load(self) -> dict[str, bytes]:
        self.loads += 1
        return self._load()

    def save(self, salts: dict[str, bytes]) -> None:
        self.saves += 1
        self._save(salts)


@pytest.fixture
def table(tmp_path: Path) -> Iterator[SaltTable]:
    salts = SaltTable(tmp_path / "meta.sqlite")
    yield salts
    salts.meta.close()


def test_a_visitor_id_is_a_prefixed_24_digit_hex() -> None:
    vid = VisitorHasher().visitor_id("p1", "203.0.113.7", UA, DAY1)
    assert re.fullmatch(r"v_[0-9a-f]{24}", vid)


def test_the_id_is_stable_within_a_utc_day_and_differs_by_project_ip_and_ua() -> None:
    hasher = VisitorHasher()
    vid = hasher.visitor_id("p1", "203.0.113.7", UA, DAY1)
    assert hasher.visitor_id("p1", "203.0.113.7", UA, DAY1.replace(hour=23, minute=59)) == vid
    others = {
        hasher.visitor_id("p2", "203.0.113.7", UA, DAY1),
        hasher.visitor_id("p1", "203.0.113.8", UA, DAY1),
        hasher.visitor_id("p1", "203.0.113.7", UA + " x", DAY1),
        hasher.visitor_id("p1", "203.0.113.7", None, DAY1),
    }
    assert vid not in others and len(others) == 4


def test_the_salt_rotates_every_utc_day() -> None:
    hasher = VisitorHasher()
    assert hasher.visitor_id("p1", "203.0.113.7", UA, DAY1) != hasher.visitor_id(
        "p1", "203.0.113.7", UA, DAY2
    )


def test_yesterdays_ids_can_be_recomputed_but_not_older_ones(table: SaltTable) -> None:
    hasher = VisitorHasher(table.load, table.save)
    day1_id = hasher.visitor_id("p1", "203.0.113.7", UA, DAY1)

    hasher.visitor_id("p1", "203.0.113.7", UA, DAY2)
    assert hasher.visitor_id("p1", "203.0.113.7", UA, DAY1) == day1_id

    hasher.visitor_id("p1", "203.0.113.7", UA, DAY3)
    assert sorted(table.rows) == ["2025-03-02", "2025-03-03"]
    assert hasher.visitor_id("p1", "203.0.113.7", UA, DAY1) != day1_id
    assert sorted(table.rows) == ["2025-03-02", "2025-03-03"]
    assert all(len(salt) == SALT_BYTES for salt in table.rows.values())


def test_visitor_ids_offers_yesterdays_id_to_continue_a_visit_across_midnight() -> None:
    hasher = VisitorHasher()
    before_midnight = hasher.visitor_id("p1", "203.0.113.7", UA, DAY1.replace(hour=23))
    today, yesterday = hasher.visitor_ids("p1", "203.0.113.7", UA, DAY2.replace(hour=0))
    assert yesterday == before_midnight
    assert today == hasher.visitor_id("p1", "203.0.113.7", UA, DAY2)


def test_visitor_ids_on_a_first_day_has_only_todays_id() -> None:
    assert len(VisitorHasher().visitor_ids("p1", "203.0.113.7", UA, DAY1)) == 1


def test_workers_sharing_a_salt_store_agree_on_ids(table: SaltTable) -> None:
    first = VisitorHasher(table.load, table.save).visitor_id("p1", "203.0.113.7", UA, DAY1)
    second = VisitorHasher(table.load, table.save).visitor_id("p1", "203.0.113.7", UA, DAY1)
    assert first == second


def test_a_worker_that_lost_the_race_to_create_todays_salt_adopts_the_stored_one(
    table: SaltTable,
) -> None:
    # This worker's first load ran before the other worker saved.
    stale_loads: Iterator[dict[str, bytes]] = iter([{}])

    def load() -> dict[str, bytes]:
        stale = next(stale_loads, None)
        return stale if stale is not None else table.load()

    winner = VisitorHasher(table.load, table.save).visitor_id("p1", "203.0.113.7", UA, DAY1)
    loser = VisitorHasher(load, table.save).visitor_id("p1", "203.0.113.7", UA, DAY1)
    assert loser == winner


def test_salts_are_loaded_only_when_a_new_day_starts(table: SaltTable) -> None:
    hasher = VisitorHasher(table.load, table.save)
    hasher.visitor_id("p1", "203.0.113.0", UA, DAY1)
    loads = table.loads
    assert (loads, table.saves) == (2, 1), "load, save the new day's salt, load again"
    for minute in range(1, 50):
        hasher.visitor_id("p1", f"203.0.113.{minute}", UA, DAY1 + timedelta(minutes=minute))
    assert (table.loads, table.saves) == (loads, 1)
    hasher.visitor_id("p1", "203.0.113.0", UA, DAY2)
    assert (table.loads, table.saves) == (loads + 2, 2)


def test_the_day_is_the_utc_day_of_now() -> None:
    hasher = VisitorHasher()
    utc_morning = hasher.visitor_id("p1", "203.0.113.7", UA, datetime(2025, 3, 1, 1, tzinfo=UTC))
    same_instant_in_berlin = datetime(2025, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=2)))
    naive_utc = datetime(2025, 3, 1, 12)
    assert hasher.visitor_id("p1", "203.0.113.7", UA, same_instant_in_berlin) == utc_morning
    assert hasher.visitor_id("p1", "203.0.113.7", UA, naive_utc) == utc_morning


def test_concurrent_first_calls_of_a_day_agree() -> None:
    hasher = VisitorHasher()
    with ThreadPoolExecutor(16) as pool:
        ids = set(pool.map(lambda _: hasher.visitor_id("p1", "203.0.113.7", UA, DAY1), range(64)))
    assert len(ids) == 1


def test_load_without_save_is_refused() -> None:
    with pytest.raises(ValueError, match="both"):
        VisitorHasher(load=dict)


@pytest.mark.parametrize(
    ("headers", "peer", "trust_proxy", "expected"),
    [
        ({}, "203.0.113.7", False, "203.0.113.7"),
        ({"x-forwarded-for": "198.51.100.1"}, "10.0.0.2", False, "10.0.0.2"),
        (
            {"cf-connecting-ip": "198.51.100.1", "x-forwarded-for": "198.51.100.2"},
            "10.0.0.2",
            True,
            "198.51.100.1",
        ),
        ({"x-forwarded-for": "198.51.100.2, 10.0.0.3, 10.0.0.4"}, "10.0.0.2", True, "198.51.100.2"),
        (
            {"x-forwarded-for": "198.51.100.2", "x-real-ip": "198.51.100.3"},
            "10.0.0.2",
            True,
            "198.51.100.2",
        ),
        ({"x-real-ip": "198.51.100.3"}, "10.0.0.2", True, "198.51.100.3"),
        (
            {"x-forwarded-for": "unknown", "x-real-ip": "198.51.100.3"},
            "10.0.0.2",
            True,
            "198.51.100.3",
        ),
        ({"cf-connecting-ip": "garbage"}, "10.0.0.2", True, "10.0.0.2"),
        ({"x-forwarded-for": "198.51.100.2:51234"}, None, True, "198.51.100.2"),
        ({"x-forwarded-for": "[2001:db8::1]:443"}, None, True, "2001:db8::1"),
        ({"x-forwarded-for": "2001:DB8::1"}, None, True, "2001:db8::1"),
        ({}, "::ffff:203.0.113.7", False, "203.0.113.7"),
        ({}, "fe80::1%eth0", False, "fe80::1"),
        ({}, None, True, None),
        ({}, "not-an-ip", False, None),
    ],
)
def test_client_ip_reads_proxy_headers_only_when_trusted(
    headers: dict[str, str], peer: str | None, trust_proxy: bool, expected: str | None
) -> None:
    assert client_ip(headers, peer, trust_proxy) == expected


# No raw IP anywhere: a real server, every ingest surface, then every file as bytes -------------

IPV4 = "203.0.113.187"
IPV6 = "2001:db8:4d2::beef:187"


@pytest.mark.parametrize(
    ("trust", "coord"),
    [
        (True, "memory"),
        (False, "memory"),
        pytest.param(True, "redis", marks=pytest.mark.scaleout, id="True-redis"),
    ],
)
def test_no_raw_ip_is_stored_or_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, trust: bool, coord: str
) -> None:
    with backends.coordinator_url(coord) as url:
        _no_raw_ip(tmp_path, caplog, trust, url)


def _no_raw_ip(tmp_path: Path, caplog: pytest.LogCaptureFixture, trust: bool, coord: str) -> None:
    """Events from a distinctive client IP through every ingest surface (native, Convalytics,
    Agnost, provisioning, the sign-in limiter) with the IP in ``X-Forwarded-For`` and
    ``CF-Connecting-IP``; with ``trust_proxy_headers`` off the loopback peer's
    ``X-Forwarded-For`` still becomes the socket address (uvicorn's proxy_headers). Neither
    form of the IP may appear in any file of the data dir (DuckDB, SQLite, journal, their WAL
    files), in a read's answer, or in the log at the default level."""
    caplog.set_level(logging.INFO)
    running, stop = start_server(tmp_path / "data", trust_proxy_headers=trust, coord=coord)
    answers: list[str] = []
    try:
        for ip in (IPV4, IPV6):
            headers = {"X-Forwarded-For": ip, "CF-Connecting-IP": ip, "User-Agent": CHROME_UA}
            with httpx.Client(base_url=running.url, headers=headers, timeout=30) as c:
                p = running.new_project()
                token = p["project_token"]
                sid = str(uuid.uuid4())
                sent = [
                    c.post("/track", json={"token": token, "event": "one"}),
                    c.post("/track/batch", json={"token": token, "events": [{"event": "two"}]}),
                    c.post("/identify", json={"token": token, "previous_id": "a", "user_id": "b"}),
                    c.post(
                        "/ingest",
                        json={
                            "writeKey": token,
                            "name": "page_view",
                            "userId": "u",
                            "sessionId": "s",
                            "timestamp": int(time.time() * 1000),
                            "props": {"path": "/"},
                        },
                    ),
                    c.post(
                        "/api/v1/capture-session",
                        json={"session_id": sid, "ip": ip, "client_config": "c"},
                        headers={"X-Org-Id": token},
                    ),
                    c.post(
                        "/api/v1/capture-event",
                        json={
                            "session_id": sid,
                            "primitive_type": "tool",
                            "primitive_name": "t",
                            "latency": 1,
                            "success": True,
                        },
                        headers={"X-Org-Id": token},
                    ),
                    c.post("/api/provision", json={"name": "from an ip"}),
                    c.post("/signin", data={"email": "x@example.com", "password": "nope"}),
                ]
                for r in sent[:-1]:
                    assert r.status_code < 300, r.text
                with running.client() as owner:
                    for path in ("/events", "/sessions", "/live", "/stats"):
                        answers.append(owner.get(path, params={"project": p["id"]}).text)
                    answers.append(owner.get("/account").text)
    finally:
        stop()
    needles = [IPV4.encode(), IPV6.encode(), ipaddress.ip_address(IPV4).packed]
    if coord.startswith("redis"):  # the rate limits' keys and values (provision, sign-in)
        prefix = coord.split("prefix=", 1)[1]
        client = redis.Redis.from_url(backends.REDIS_URL)
        try:
            held = [(k, client.dump(k) or b"") for k in client.scan_iter(match=prefix + "*")]
        finally:
            client.close()
        assert any(b"provision" in k for k, _ in held), "the provision limit was not counted"
        for key, value in held:
            for needle in needles:
                assert needle not in key and needle not in value, f"{needle!r} in Redis {key!r}"
    files = [f for f in (tmp_path / "data").rglob("*") if f.is_file()]
    assert any(f.suffix == ".duckdb" for f in files) and any("journal" in f.name for f in files)
    for f in files:
        data = f.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle!r} stored in {f.name}"
    assert "203.0.113" not in "".join(answers)
    log = "\n".join(r.getMessage() for r in caplog.records)
    assert IPV4 not in log and IPV6 not in log, log
