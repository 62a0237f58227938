"""The benchmark data loader stores exactly what the HTTP ingest path stores."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import httpx

from agentlytics.storage.arrow import events_table
from bench._traffic import Population, Request, expand
from bench.datagen import make_ingestor, to_events
from tests.conftest import RunningServer

COLUMNS = "* EXCLUDE (received_at)"  # the only column that depends on when it arrived


def send(server: RunningServer, token: str, requests: list[Request]) -> None:
    """The requests as /track/batch calls, each with its visitor's headers."""
    by_headers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for req in requests:
        by_headers[json.dumps(req.headers, sort_keys=True)].append(req.body)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for headers, bodies in by_headers.items():
            for start in range(0, len(bodies), 100):
                r = client.post(
                    "/track/batch",
                    content=json.dumps({"token": token, "events": bodies[start : start + 100]}),
                    headers=json.loads(headers),
                )
                assert r.status_code in (202, 400), r.text  # 400: a batch of bots only


def identify(server: RunningServer, token: str, calls: list[tuple[str, str, int]]) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for previous_id, user_id, _ in calls:
            r = client.post(
                "/identify", json={"token": token, "previous_id": previous_id, "user_id": user_id}
            )
            assert r.status_code == 202, r.text


def test_generated_rows_equal_what_the_ingest_path_stores(server: RunningServer) -> None:
    created = server.new_project()
    project = server.services.meta.get_project(created["id"])
    assert project is not None
    pop = Population(days=3, end_ms=1_790_000_000_000, new_per_day=25, seed=7)
    requests: list[Request] = []
    identifies: list[tuple[str, str, int]] = []
    for day in range(3):
        reqs, ids = expand(pop.plan(day), seed=7)
        requests += reqs
        identifies += ids
    names = {r.body["event"] for r in requests}
    assert names >= {"page_view", "$scroll_depth", "signup_completed", "$mcp_call"}

    events, bots, invalid = to_events(make_ingestor(server.services.settings), project, requests)
    assert invalid == 0 and events and bots and identifies

    send(server, created["project_token"], requests)
    identify(server, created["project_token"], identifies)

    store: Any = server.services.events
    stored = store.query(f"SELECT {COLUMNS} FROM events WHERE project_id = ?", [project.id]).rows
    table = events_table(events)

    def read_generated(cursor: Any) -> list[tuple[Any, ...]]:
        cursor.register("generated", table)
        return list(cursor.execute(f"SELECT {COLUMNS} FROM generated").fetchall())

    generated = store.with_cursor(read_generated)
    assert sorted(generated, key=repr) == sorted(stored, key=repr)

    bot_rows = store.query(
        "SELECT category, actor, name FROM bot_hits WHERE project_id = ?", [project.id]
    ).rows
    assert sorted(bot_rows) == sorted((b.category, b.actor, b.name) for b in bots)
    id_rows = store.query(
        "SELECT previous_id, user_id FROM identities WHERE project_id = ?", [project.id]
    ).rows
    assert sorted(id_rows) == sorted((prev, user) for prev, user, _ in identifies)
