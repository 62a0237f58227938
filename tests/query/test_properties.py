"""Property keys and breakdowns by a materialized property key, read from the property
summaries, answer exactly as a scan of the events.

Events go in through the real ingest path (``POST /track/batch``, ``/identify``); the key
``plan`` appears only in the second half of the traffic's span, with values of every JSON
type (and as another key's value, which the JSON prefilter cannot tell apart). Each answer
is given by the server's engine and by an engine that never reads summaries (for the keys:
by parsing every event of the period here). That happens before the summaries hold
anything, after the writer built them, after late events, after a key is materialized over
events already counted, and after a catch-up from scratch at start-up.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from agentlytics.model.project import Project
from agentlytics.query import breakdowns, properties, reports
from agentlytics.query.engine import QueryEngine
from agentlytics.query.period import Period
from agentlytics.storage.duckdb import properties as stored
from agentlytics.storage.duckdb import rollup
from tests.conftest import RunningServer
from tests.factories import event
from tests.query.conftest import summary_project
from tests.query.test_fragments import identify, send
from tests.query.test_rollups import PERIODS, START

#: ``plan`` is sent from here on (the middle of the traffic's span)
MIDDLE = START + timedelta(hours=50)
PLANS: list[Any] = ["pro", "team", "", None, 3, 2.5, True, {"seats": 5}]
NAMES = ["page_view", "page_view", "signup", "purchase", "$mcp_call"]


def traffic(seed: int, n: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        at = START - timedelta(hours=3) + timedelta(minutes=rng.randrange(6000), milliseconds=i)
        user = f"u{rng.randrange(30)}" if rng.random() < 0.9 else None
        props: dict[str, Any] = {}
        if rng.random() < 0.5:
            props["path"] = rng.choice(["/", "/pricing"])
        if at >= MIDDLE and rng.random() < 0.6:
            props["plan"] = rng.choice(PLANS)
        if rng.random() < 0.1:
            props["tier"] = "plan"  # '"plan"' is in the JSON text, yet no plan
        if rng.random() < 0.3:
            props["size"] = rng.choice(["s", "m", 1])
        ev = event(rng.choice(NAMES), user=user, session=None, ts=at, **props)
        if user is None:
            ev["anonymous_id"] = f"anon{rng.randrange(5)}"
        out.append(ev)
    return out


def scanned_keys(store: Any, project: Project, period: Period) -> dict[str, list[str]]:
    rows = store.query(
        "SELECT name, properties FROM events WHERE project_id = ? AND timestamp >= ? "
        "AND timestamp < ?",
        [project.id, period.start_param, period.end_param],
    ).rows
    found: dict[str, set[str]] = {}
    for name, props in rows:
        found.setdefault(name, set()).update(json.loads(props))
    return {name: sorted(keys) for name, keys in sorted(found.items())}


def compare(server: RunningServer, project: Project) -> int:
    """Every answer over every period, both ways; returns how many breakdowns read the
    summary."""
    fast, scanned = server.services.query, QueryEngine(server.services.events, rollups=False)
    used = 0
    for period in PERIODS:
        for key in ("plan", "size", "path"):
            for name in (None, "purchase", "page_view"):
                answer = breakdowns.breakdown(fast, project, period, prop=key, event=name, limit=50)
                assert answer == breakdowns.breakdown(
                    scanned, project, period, prop=key, event=name, limit=50
                ), (key, name, period)
            scope = fast.scope(project, period)
            used += properties.breakdown_sql(scope, key, 10) is not None
        keys = scanned_keys(server.services.events, project, period)
        assert reports.property_keys(fast, project, period, sample=100) == keys, period
        # the scan's newest 5000 events are all of them here: every key, as the summary's
        answer = reports.properties(fast, project, period)
        assert answer == reports.properties(scanned, project, period), period
        assert answer["property_keys"] == sorted({k for ks in keys.values() for k in ks})
    return used


def test_property_summaries_answer_as_the_raw_scan_through_every_stage(
    unlimited_server: RunningServer,
) -> None:
    server = unlimited_server
    project, store, token = summary_project(server, "props")
    send(server, token, traffic(1, 800))
    identify(server, token, "u3", "ada")
    identify(server, token, "anon1", "ada")

    # nothing built: breakdowns by a key scan, and ask for it to be materialized
    assert compare(server, project) == 0
    assert store._keys.wanted == {(project.id, "plan"), (project.id, "size")}
    store.fill_materialized()  # nothing counted yet: complete when listed
    assert store.materialized[project.id] == {"plan", "size"}
    assert compare(server, project) == 2 * len(PERIODS)

    now = datetime.now(UTC).replace(tzinfo=None)
    store.advance_rollup(now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
    [(plans,)] = store.query("SELECT sum(events) FROM property_values WHERE key = 'plan'").rows
    assert 0 < plans < 800
    answer = breakdowns.breakdown(
        server.services.query, project, PERIODS[0], prop="plan", event=None, limit=50
    )
    assert {v["value"] for v in answer["values"]} == {
        "pro",
        "team",
        "3",
        "2.5",
        "true",
        '{"seats":5}',
    }
    assert compare(server, project) == 2 * len(PERIODS)

    # received below the watermark: counted by the commit that stores them
    send(server, token, traffic(2, 300))
    identify(server, token, "u4", "ada")
    [(events,)] = store.query("SELECT sum(events) FROM property_hourly WHERE key = 'path'").rows
    [(paths,)] = store.query(
        "SELECT count(*) FROM events WHERE contains(properties, '\"path\"')"
    ).rows
    assert events == paths
    assert compare(server, project) == 2 * len(PERIODS)

    # a key materialized over events already counted: their rows are written a few hours
    # of event time per step, and the key is read only once they all are
    store.materialize(project.id, "tier")
    store._call(store._materialize_wanted)
    store._call(store._fill_step)
    [(tiers,)] = store.query("SELECT count(*) FROM property_values WHERE key = 'tier'").rows
    assert tiers > 0
    assert "tier" not in store.materialized[project.id]
    for period in PERIODS:
        assert not properties.breakdown_sql(server.services.query.scope(project, period), "tier", 9)
    store.fill_materialized()
    scanned = QueryEngine(server.services.events, rollups=False)
    for period in PERIODS:
        assert properties.breakdown_sql(server.services.query.scope(project, period), "tier", 9)
        assert breakdowns.breakdown(
            server.services.query, project, period, prop="tier", event=None, limit=50
        ) == breakdowns.breakdown(scanned, project, period, prop="tier", event=None, limit=50)
    assert compare(server, project) == 2 * len(PERIODS)

    # built from scratch at start-up
    def rebuild() -> None:
        con = store._con
        con.execute("DELETE FROM property_hourly")
        con.execute("DELETE FROM property_values")
        con.execute(
            "UPDATE rollup_state SET watermark = ? WHERE name = ?",
            [datetime(1970, 1, 1), stored.STATE],
        )
        rollup.catch_up_summaries(con, rollup.watermark(con))

    store._call(rebuild)
    [(again,)] = store.query("SELECT sum(events) FROM property_hourly WHERE key = 'path'").rows
    assert again == paths
    assert compare(server, project) == 2 * len(PERIODS)


def test_at_most_a_few_keys_are_materialized_per_project(
    unlimited_server: RunningServer,
) -> None:
    project, store, _ = summary_project(unlimited_server, "many")
    for i in range(stored.MAX_MATERIALIZED + 2):
        store.materialize(project.id, f"k{i}")
    store.fill_materialized()
    assert len(store.materialized[project.id]) == stored.MAX_MATERIALIZED


def test_no_summary_is_read_with_rollups_off(make_server: Any) -> None:
    server: RunningServer = make_server(rollups=False)
    project = Project(id="p", account_id="a", name="p", write_key="k", created_at=0)
    scope = server.services.query.scope(project, PERIODS[0])
    assert properties.keys_sql(scope) is None
    assert properties.breakdown_sql(scope, "plan", 10) is None
