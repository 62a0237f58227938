"""``GET /verify?writeKey=``: recent activity for a write key."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import RunningServer
from tests.convalytics.conftest import cnv_event, now_ms, provision
from tests.factories import CHROME_UA

MINUTE = 60_000


def verify(server: RunningServer, key: str | None) -> httpx.Response:
    params = {} if key is None else {"writeKey": key}
    return httpx.get(server.url + "/verify", params=params)


def test_missing_and_unknown_write_keys(server: RunningServer) -> None:
    r = verify(server, None)
    assert (r.status_code, r.json()) == (400, {"error": "missing_writeKey"})
    r = verify(server, "")
    assert (r.status_code, r.json()) == (400, {"error": "missing_writeKey"})
    r = verify(server, "aat_nope")
    assert (r.status_code, r.json()) == (401, {"error": "invalid_writeKey"})


def test_a_project_with_nothing_yet(server: RunningServer, project: dict[str, Any]) -> None:
    before = now_ms()
    r = verify(server, project["project_token"])
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert before <= body["now"] <= now_ms()
    empty = {"last5m": 0, "last1h": 0, "last24h": 0, "recent": [], "lastTimestamp": None}
    assert body == {
        "ok": True,
        "project": {"name": project["name"], "claimed": True},
        "now": body["now"],
        "events": empty,
        "pageviews": empty,
        "environments": [],
    }


def test_counts_windows_recent_rows_and_environments(
    server: RunningServer, project: dict[str, Any]
) -> None:
    now = now_ms()
    events = [
        cnv_event("a", timestamp=now - 1 * MINUTE, deploymentName="shop-prod"),
        cnv_event("b", timestamp=now - 2 * MINUTE, deploymentName="dev-1"),
        cnv_event("c", timestamp=now - 30 * MINUTE),
        cnv_event("d", timestamp=now - 3 * 60 * MINUTE),
        cnv_event("e", timestamp=now - 5 * 60 * MINUTE),
        cnv_event("f", timestamp=now - 6 * 60 * MINUTE),
        cnv_event("old", timestamp=now - 25 * 60 * MINUTE),
        cnv_event(
            "page_view",
            timestamp=now - 4 * MINUTE,
            props={"path": "/new"},
            pageOrigin="http://localhost:3000",
        ),
        cnv_event(
            "page_view",
            timestamp=now - 90 * MINUTE,
            props={"path": "/older"},
            pageOrigin="https://shop.example",
        ),
    ]
    r = httpx.post(
        server.url + "/ingest/batch",
        json={"writeKey": project["project_token"], "events": events},
        headers={"User-Agent": CHROME_UA},
    )
    assert r.json()["accepted"] == 9
    body = verify(server, project["project_token"]).json()
    ev, pv = body["events"], body["pageviews"]
    assert (ev["last5m"], ev["last1h"], ev["last24h"]) == (2, 3, 6)
    assert [e["name"] for e in ev["recent"]] == ["a", "b", "c", "d", "e"]
    assert ev["recent"][0] == {"name": "a", "timestamp": now - MINUTE, "environment": "production"}
    assert ev["recent"][1]["environment"] == "development"
    assert ev["lastTimestamp"] == now - MINUTE
    assert (pv["last5m"], pv["last1h"], pv["last24h"]) == (1, 1, 2)
    assert pv["recent"] == [
        {"path": "/new", "timestamp": now - 4 * MINUTE, "environment": "development"},
        {"path": "/older", "timestamp": now - 90 * MINUTE, "environment": "production"},
    ]
    assert body["environments"] == ["development", "production"]


def test_a_provisioned_project_verifies_unclaimed(open_server: RunningServer) -> None:
    made = provision(open_server.url, {"name": "Verify Me"})
    assert (
        httpx.post(
            open_server.url + "/ingest", json=cnv_event(writeKey=made["writeKey"])
        ).status_code
        == 200
    )
    body = verify(open_server, made["writeKey"]).json()
    assert body["project"] == {"name": "verify-me", "claimed": False}
    assert body["events"]["last24h"] == 1


def test_verify_answers_cors(server: RunningServer, project: dict[str, Any]) -> None:
    r = httpx.get(
        server.url + "/verify",
        params={"writeKey": project["project_token"]},
        headers={"Origin": "https://tool.example"},
    )
    assert r.headers["access-control-allow-origin"] == "https://tool.example"
    r = httpx.options(server.url + "/verify", headers={"Origin": "https://tool.example"})
    assert r.status_code == 204
    assert "GET" in r.headers["access-control-allow-methods"]
