"""Users' dense numbers (``storage/duckdb/users.py``): every raw id the hourly users count,
and both ids of every identity, have exactly one number, 1..N per project, that never
changes; and the user counts read from them equal the raw scan, as bitmaps, as distinct
counts, and with numbers the engine does not know yet.

A real server on a data directory of its own, through the real ingest path (``/track/batch``,
``/identify``) and the store's bulk loads, across restarts, and across the migration that
introduced the numbers (a directory set back to schema 8, its hourly users by hash).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from agentlytics.model.event import Event
from agentlytics.model.project import Project
from agentlytics.query import users
from agentlytics.storage.arrow import events_table
from tests.conftest import RunningServer, start_server
from tests.query.conftest import drop_migrations_11_12
from tests.query.test_fragments import START, identify, send, traffic
from tests.query.test_users import compare

NUMBERED = (
    "SELECT uid FROM (SELECT coalesce(user_id, anonymous_id) AS uid FROM events "
    "WHERE project_id = ? AND received_at < (SELECT watermark FROM rollup_state "
    "WHERE name = 'user_hourly') UNION SELECT previous_id FROM identities WHERE project_id = ? "
    "UNION SELECT user_id FROM identities WHERE project_id = ?) WHERE uid IS NOT NULL"
)
ALIASES = (
    "SELECT a.uid, b.uid FROM user_aliases x "
    "JOIN user_numbers a ON a.project_id = x.project_id AND a.num = x.num "
    "JOIN user_numbers b ON b.project_id = x.project_id AND b.num = x.to_num "
    "WHERE x.project_id = ?"
)


def numbers(server: RunningServer, project: Project) -> dict[str, int]:
    """The project's numbers, checked: dense from 1, one per id the summary counts or the
    identity map names, and the aliases are the identity map."""
    store, pid = server.services.events, project.id
    rows = store.query("SELECT uid, num FROM user_numbers WHERE project_id = ?", [pid]).rows
    found = dict(rows)
    assert len(found) == len(rows), "one number per id"
    assert sorted(found.values()) == list(range(1, len(rows) + 1)), "dense from 1"
    assert set(found) == {uid for (uid,) in store.query(NUMBERED, [pid] * 3).rows}
    identities = store.query(
        "SELECT previous_id, user_id FROM identities WHERE project_id = ?", [pid]
    ).rows
    assert sorted(store.query(ALIASES, [pid]).rows) == sorted(identities)
    return found


def kept(before: dict[str, int], after: dict[str, int]) -> None:
    assert {uid: after[uid] for uid in before} == before, "numbers never change"


def advance(server: RunningServer) -> None:
    now = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    server.services.events.advance_rollup(now + timedelta(hours=1))


def bulk(server: RunningServer, project: Project) -> None:
    """A bulk load of events received long ago (counted by the load itself), new users among
    them, and of identity map rows (one replacing an earlier identity)."""
    store = server.services.events
    at = int((START + timedelta(hours=5)).timestamp() * 1000)
    events = [
        Event(
            project_id=project.id,
            event_id=f"bulk{i}",
            name="page_view",
            timestamp=at + i * 60_000,
            received_at=at + i * 60_000 + 500,
            anonymous_id=f"bulk{i % 4}" if i % 3 else f"u{i}",
            path="/bulk",
        )
        for i in range(12)
    ]
    store.append_table(events_table(events))
    created = pa.array([datetime(2026, 1, 1)] * 2, pa.timestamp("ms"))
    identities = pa.table(
        {
            "project_id": [project.id, project.id],
            "previous_id": ["bulk1", "u5"],
            "user_id": ["carol", "dave"],
            "created_at": created,
        }
    )
    store.append_table(identities, into="identities")


def set_back_to_schema_8(path: Path) -> None:
    """The database as the release before numbers left it: hourly users by hash (here with
    a row that no longer means anything), no numbers."""
    con = duckdb.connect(str(path))
    try:
        con.execute("DROP TABLE user_numbers")
        con.execute("DROP TABLE user_aliases")
        con.execute("DROP TABLE user_hourly")
        con.execute(
            "CREATE TABLE user_hourly (project_id VARCHAR NOT NULL, hour TIMESTAMP NOT NULL, "
            "name VARCHAR NOT NULL, uk UBIGINT, events BIGINT NOT NULL)"
        )
        con.execute(
            "INSERT INTO user_hourly SELECT project_id, hour, name, 7, 1 FROM rollup_hourly"
        )
        # and before the session fragments without a session id moved apart (migration 10) and
        # the whole ones were totalled by the hour (11)
        con.execute("INSERT INTO session_hourly SELECT * FROM session_loose")
        con.execute("DROP TABLE session_loose")
        drop_migrations_11_12(con)
        con.execute("DELETE FROM schema_version WHERE version >= 9")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def test_numbers_are_dense_stable_and_count_exactly_through_every_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    server, stop = start_server(data, ingest_rate_limit=0)
    try:
        created = server.new_project("numbers")
        project = server.services.meta.get_project(created["id"])
        assert project is not None
        token = created["project_token"]

        send(server, token, traffic(1, 500))
        identify(server, token, "u3", "ada")  # ada: an id known only from the map
        advance(server)
        first = numbers(server, project)
        assert "ada" in first and compare(server, project) > 0

        # late events (below the watermark: counted and numbered by their own commit), a new
        # user among them, and /identify after events: of a user with events, and to a new id
        send(server, token, [*traffic(2, 200), {**traffic(3, 1)[0], "user_id": "late1"}])
        identify(server, token, "u4", "ada")
        identify(server, token, "u7", "bob")
        second = numbers(server, project)
        kept(first, second)
        assert {"late1", "bob"} <= set(second)
        compare(server, project)

        bulk(server, project)
        third = numbers(server, project)
        kept(second, third)
        assert {"bulk1", "carol", "dave"} <= set(third)
        compare(server, project)

        # the same answers as distinct counts (no bitmap fits), and with numbers the engine
        # has not heard of (all but the first three counted apart)
        monkeypatch.setattr(users, "BITMAP_BITS", 0)
        compare(server, project)
        monkeypatch.undo()
        store: Any = server.services.events
        store.user_numbers = {project.id: 3}
        compare(server, project)
    finally:
        stop()

    server, stop = start_server(data, ingest_rate_limit=0)  # a restart keeps every number
    try:
        kept(third, numbers(server, project))
        assert server.services.events.user_numbers[project.id] == len(third)
        compare(server, project)
    finally:
        stop()

    set_back_to_schema_8(data / "events.duckdb")
    server, stop = start_server(data, ingest_rate_limit=0)  # migration 9 and a rebuild
    try:
        rebuilt = numbers(server, project)
        assert set(rebuilt) == set(third)
        [(rows, events)] = server.services.events.query(
            "SELECT count(*) FILTER (WHERE num IS NULL), sum(events) FROM user_hourly "
            "WHERE project_id = ?",
            [project.id],
        ).rows
        [(stored,)] = server.services.events.query(
            "SELECT count(*) FROM events WHERE project_id = ?", [project.id]
        ).rows
        assert events == stored and rows <= stored
        compare(server, project)
    finally:
        stop()


def test_an_id_whose_lookup_key_is_taken_is_found_by_the_id(tmp_path: Path) -> None:
    """Ids whose ``hash(project_id, uid)`` another id has (made to happen here by giving one
    id's key to another) are stored without a key, and readers find them by the id."""
    server, stop = start_server(tmp_path / "data", ingest_rate_limit=0)
    try:
        created = server.new_project("collide")
        project = server.services.meta.get_project(created["id"])
        assert project is not None
        token = created["project_token"]
        send(server, token, traffic(4, 300))
        advance(server)
        store: Any = server.services.events

        def collide() -> None:
            store._con.execute(
                "UPDATE user_numbers SET uk = NULL WHERE project_id = ? AND uid IN ('u1', 'u2')",
                [project.id],
            )

        store._call(collide)
        # more events of u1 (numbered by id); the periods' partial hours look them up
        send(server, token, [{**e, "user_id": "u1"} for e in traffic(5, 20)])
        numbers(server, project)
        compare(server, project)
    finally:
        stop()
