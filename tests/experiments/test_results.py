"""Results from constructed data sent through the real ingest path, on DuckDB and ClickHouse."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from scipy import special

from tests.conftest import RunningServer
from tests.factories import event, populate

EXPOSURE = "$experiment_exposure"


def exposure(user: str, variant: str, at: datetime, experiment: str = "hero") -> dict[str, Any]:
    return event(EXPOSURE, user=user, ts=at, experiment=experiment, variant=variant)


def exact_b_beats_a(a: tuple[int, int], b: tuple[int, int]) -> float:
    """P(rate_b > rate_a) under uniform priors, as a finite sum of Beta functions."""
    (n1, c1), (n2, c2) = a, b
    a1, b1, a2, b2 = 1 + c1, 1 + n1 - c1, 1 + c2, 1 + n2 - c2
    terms = [
        special.betaln(a1 + i, b1 + b2)
        - math.log(b2 + i)
        - special.betaln(1 + i, b2)
        - special.betaln(a1, b1)
        for i in range(a2)
    ]
    return float(np.exp(terms).sum())


@pytest.fixture
def client(any_server: RunningServer) -> Iterator[httpx.Client]:
    with any_server.client() as c:
        yield c


def setup(
    server: RunningServer, client: httpx.Client, **body: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    project = server.new_project()
    payload = {
        "project": project["id"],
        "name": "hero",
        "variants": ["control", "b"],
        "goal_event": "signup",
        **body,
    }
    r = client.post("/experiments", json=payload)
    assert r.status_code == 201, r.text
    return project, r.json()


def test_results_count_exposures_users_and_conversions_after_first_exposure(
    any_server: RunningServer, client: httpx.Client
) -> None:
    project, exp = setup(any_server, client)
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    at = lambda minutes: t0 + timedelta(minutes=minutes)  # noqa: E731
    token = project["project_token"]
    events = [
        # control: c1 twice (2 exposures, 1 user); c1 and c3 convert after exposure;
        # c2 only converted before being exposed
        exposure("c1", "control", at(0)),
        exposure("c1", "control", at(5)),
        exposure("c2", "control", at(1)),
        exposure("c3", "control", at(1)),
        exposure("c4", "control", at(2)),
        exposure("c5", "control", at(2)),
        event("signup", user="c1", ts=at(6)),
        event("signup", user="c2", ts=at(0)),
        event("signup", user="c3", ts=at(0)),
        event("signup", user="c3", ts=at(3)),
        # b: b3 converts twice (one user); b4 does something else
        exposure("b1", "b", at(0)),
        exposure("b2", "b", at(0)),
        exposure("b3", "b", at(0)),
        exposure("b4", "b", at(0)),
        event("signup", user="b1", ts=at(1)),
        event("signup", user="b2", ts=at(9)),
        event("signup", user="b3", ts=at(1)),
        event("signup", user="b3", ts=at(2)),
        event("page_view", user="b4", ts=at(1)),
        # m1 saw control first, then b: one control user, an exposure in each
        exposure("m1", "control", at(0)),
        exposure("m1", "b", at(4)),
        # anonymous visitor exposed to b, later identified, converts under the real id
        exposure("anon-x", "b", at(0)),
        # ignored: another experiment, an unknown variant, before the experiment's window
        exposure("o1", "b", at(0), experiment="other"),
        event("signup", user="o1", ts=at(1)),
        exposure("z1", "zzz", at(0)),
        exposure("old", "b", datetime.now(UTC) - timedelta(hours=3)),
    ]
    populate(any_server.url, token, events)
    r = httpx.post(
        any_server.url + "/identify",
        json={"token": token, "previous_id": "anon-x", "user_id": "real-x"},
    )
    assert r.status_code == 202, r.text
    populate(any_server.url, token, [event("signup", user="real-x", ts=at(2))])

    report = client.get(f"/experiments/{exp['id']}").json()
    results = report["results"]
    assert results["variants"] == [
        {
            "key": "control",
            "exposures": 7,
            "unique_users": 6,
            "conversions": 2,
            "conversion_rate": round(2 / 6, 4),
        },
        {"key": "b", "exposures": 6, "unique_users": 5, "conversions": 4, "conversion_rate": 0.8},
    ]
    want = exact_b_beats_a((6, 2), (5, 4))
    assert results["probability_best"]["b"] == pytest.approx(want, abs=2e-4)
    assert results["probability_best"]["control"] == pytest.approx(1 - want, abs=2e-4)
    assert results["lift"] == {"control": 0.0, "b": pytest.approx(0.8 / (2 / 6) - 1, abs=1e-4)}
    assert results["sufficient_data"] is False
    assert results["recommendation"].startswith("Keep running: 'b' has 5 exposed users")
    assert results["srm"]["observed"] == {"control": 6, "b": 5}
    assert results["srm"]["users_in_several_variants"] == 1
    assert results["sequential"]["control"] == "control"
    assert set(results["sequential"]["comparisons"]) == {"b"}


def test_completed_experiments_stop_counting(
    any_server: RunningServer, client: httpx.Client
) -> None:
    project, exp = setup(any_server, client)
    now = datetime.now(UTC)
    token = project["project_token"]
    populate(
        any_server.url,
        token,
        [
            exposure("u1", "control", now - timedelta(minutes=5)),
            exposure("u2", "b", now - timedelta(minutes=5)),
            event("signup", user="u1", ts=now - timedelta(minutes=1)),
        ],
    )
    done = client.patch(
        f"/experiments/{exp['id']}", json={"status": "completed", "winner": "control"}
    )
    assert done.status_code == 200
    populate(
        any_server.url,
        token,
        [
            event("signup", user="u2", ts=datetime.now(UTC) + timedelta(seconds=2)),
            exposure("u3", "b", datetime.now(UTC) + timedelta(seconds=2)),
        ],
    )
    variants = client.get(f"/experiments/{exp['id']}").json()["results"]["variants"]
    assert [(v["unique_users"], v["conversions"]) for v in variants] == [(1, 1), (1, 0)]


def test_many_users_give_a_confident_answer(
    any_server: RunningServer, client: httpx.Client
) -> None:
    project, exp = setup(any_server, client, weights=[50, 50])
    t = datetime.now(UTC) - timedelta(minutes=20)
    events = []
    # 300 users per variant; control converts 10 %, b 20 %
    for i in range(300):
        events.append(exposure(f"ctl{i}", "control", t))
        events.append(exposure(f"b{i}", "b", t))
        if i % 10 == 0:
            events.append(event("signup", user=f"ctl{i}", ts=t + timedelta(minutes=1)))
        if i % 5 == 0:
            events.append(event("signup", user=f"b{i}", ts=t + timedelta(minutes=1)))
    populate(any_server.url, project["project_token"], events)
    results = client.get(f"/experiments/{exp['id']}").json()["results"]
    assert [(v["unique_users"], v["conversions"]) for v in results["variants"]] == [
        (300, 30),
        (300, 60),
    ]
    want = exact_b_beats_a((300, 30), (300, 60))
    assert results["probability_best"]["b"] == pytest.approx(want, abs=2e-4)
    assert results["lift"]["b"] == 1.0
    assert results["sufficient_data"] is True
    assert results["recommendation"].startswith("'b' is the winner with")
    assert results["srm"]["mismatch"] is False
    assert results["sequential"]["comparisons"]["b"]["difference"] == pytest.approx(0.1)
