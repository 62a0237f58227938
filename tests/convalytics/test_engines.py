"""The Convalytics surface's reads (``/verify``, the monthly quota count) on every event store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer
from tests.convalytics.conftest import cnv_event, now_ms
from tests.factories import CHROME_UA
from tests.storage import backends

MINUTE = 60_000


@pytest.mark.parametrize("kind", backends.EVENT_BACKENDS)
def test_verify_and_quota_agree_on_every_event_store(
    kind: str, make_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    with backends.event_store_url(kind, tmp_path) as url:
        srv = make_server(events=url, max_events_per_month=4)
        key = srv.new_project()["project_token"]
        now = now_ms()
        events = [
            cnv_event("a", timestamp=now - MINUTE, deploymentName="shop-prod"),
            cnv_event("b", timestamp=now - 20 * MINUTE),
            cnv_event("c", timestamp=now - 3 * 60 * MINUTE),
            cnv_event("old", timestamp=now - 30 * 60 * MINUTE),
            cnv_event(
                "page_view",
                timestamp=now - 2 * MINUTE,
                props={"path": "/x"},
                pageOrigin="http://localhost:3000",
            ),
        ]
        r = httpx.post(
            srv.url + "/ingest/batch",
            json={"writeKey": key, "events": events},
            headers={"User-Agent": CHROME_UA},
        )
        assert r.json()["accepted"] == 5
        body = httpx.get(srv.url + "/verify", params={"writeKey": key}).json()
        assert [body["events"][k] for k in ("last5m", "last1h", "last24h")] == [1, 2, 3]
        assert [e["name"] for e in body["events"]["recent"]] == ["a", "b", "c"]
        assert body["events"]["recent"][0]["timestamp"] == now - MINUTE
        assert body["pageviews"]["recent"] == [
            {"path": "/x", "timestamp": now - 2 * MINUTE, "environment": "development"}
        ]
        assert body["environments"] == ["development", "production"]
        # four custom events are stored this month: the quota (4) is spent
        r = httpx.post(srv.url + "/ingest", json=cnv_event("e", writeKey=key))
        assert r.status_code == 402
