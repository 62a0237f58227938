"""The experiments HTTP API: contract shapes, status transitions, every error code, tenancy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.factories import event, populate


def create(client: httpx.Client, project: dict[str, Any], **body: Any) -> httpx.Response:
    body = {
        "project": project["name"],
        "name": "hero",
        "variants": ["control", "b"],
        "goal_event": "signup",
        **body,
    }
    return client.post("/experiments", json={k: v for k, v in body.items() if v is not None})


def created(client: httpx.Client, project: dict[str, Any], **body: Any) -> dict[str, Any]:
    r = create(client, project, **body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def other_account_client(server: RunningServer) -> httpx.Client:
    account = server.services.projects.create_account(f"eve-{uuid.uuid4().hex[:8]}@example.com")
    _, key = server.services.projects.create_api_key(account, "eve", "full")
    return server.client(key)


def test_create_returns_201_with_the_experiment(
    client: httpx.Client, project: dict[str, Any]
) -> None:
    exp = created(client, project)
    assert exp["id"].startswith("exp_")
    assert exp["project_id"] == project["id"]
    assert exp["name"] == "hero"
    assert exp["variants"] == [{"key": "control", "weight": 50}, {"key": "b", "weight": 50}]
    assert exp["goal_event"] == "signup"
    assert exp["status"] == "active"
    assert exp["winner"] is None and exp["completed_at"] is None
    assert exp["created_at"].endswith("Z") and exp["updated_at"] == exp["created_at"]


def test_weights_default_to_an_equal_split_and_can_be_given(
    client: httpx.Client, project: dict[str, Any]
) -> None:
    three = created(client, project, name="three", variants=["control", "b", "c"])
    assert [v["weight"] for v in three["variants"]] == [34, 33, 33]
    custom = created(client, project, name="custom", variants=["a", "b"], weights=[10, 90])
    assert [v["weight"] for v in custom["variants"]] == [10, 90]
    # the shape this API returns is accepted back
    again = created(client, project, name="copy", variants=custom["variants"])
    assert again["variants"] == custom["variants"]


def test_list_and_get(client: httpx.Client, project: dict[str, Any]) -> None:
    a = created(client, project, name="first")
    b = created(client, project, name="second", variants=["x", "y", "z", "w"])
    r = client.get("/experiments", params={"project": project["name"]})
    assert r.status_code == 200
    assert [e["id"] for e in r.json()["experiments"]] == [a["id"], b["id"]]
    one = client.get(f"/experiments/{b['id']}").json()
    assert {k: one[k] for k in a} == b
    assert set(one["results"]) >= {
        "variants",
        "probability_best",
        "lift",
        "sufficient_data",
        "recommendation",
        "sequential",
        "srm",
    }
    assert [v["key"] for v in one["results"]["variants"]] == ["x", "y", "z", "w"]
    assert one["results"]["probability_best"] == {"x": 0.25, "y": 0.25, "z": 0.25, "w": 0.25}
    assert one["results"]["sufficient_data"] is False
    assert one["results"]["recommendation"].startswith("No exposures yet")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": None}, "MISSING_FIELDS"),
        ({"variants": None}, "MISSING_FIELDS"),
        ({"goal_event": None}, "MISSING_FIELDS"),
        ({"name": "has space"}, "INVALID_NAME"),
        ({"name": "x" * 65}, "INVALID_NAME"),
        ({"name": 7}, "INVALID_NAME"),
        ({"variants": ["only"]}, "INVALID_VARIANTS"),
        ({"variants": ["a", "b", "c", "d", "e"]}, "INVALID_VARIANTS"),
        ({"variants": "control,b"}, "INVALID_VARIANTS"),
        ({"variants": ["a", "A"]}, "INVALID_VARIANTS"),
        ({"variants": ["a", "no space"]}, "INVALID_VARIANTS"),
        ({"variants": ["a", 2]}, "INVALID_VARIANTS"),
        ({"weights": [60, 60]}, "INVALID_VARIANTS"),
        ({"weights": [100]}, "INVALID_VARIANTS"),
        ({"weights": [100, 0]}, "INVALID_VARIANTS"),
        ({"weights": [50.5, 49.5]}, "INVALID_VARIANTS"),
        ({"weights": "50,50"}, "INVALID_VARIANTS"),
        ({"goal_event": ""}, "MISSING_FIELDS"),
        ({"goal_event": "g" * 257}, "INVALID_FIELD"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_create_validates_with_codes_that_say_what_to_fix(
    client: httpx.Client, project: dict[str, Any], body: dict[str, Any], code: str
) -> None:
    payload = {
        "project": project["name"],
        "name": "hero",
        "variants": ["control", "b"],
        "goal_event": "signup",
        **body,
    }
    r = client.post("/experiments", json={k: v for k, v in payload.items() if v is not None})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == code and r.json()["message"]
    assert client.get("/experiments", params={"project": project["id"]}).json()["experiments"] == []


def test_a_goal_event_of_256_characters_is_accepted(
    client: httpx.Client, project: dict[str, Any]
) -> None:
    assert created(client, project, goal_event="g" * 256)["goal_event"] == "g" * 256


def test_project_is_required_and_must_be_the_callers(
    client: httpx.Client, project: dict[str, Any]
) -> None:
    r = client.post("/experiments", json={"name": "a", "variants": ["a", "b"], "goal_event": "s"})
    assert (r.status_code, r.json()["error"]) == (400, "PROJECT_REQUIRED")
    r = client.get("/experiments")
    assert (r.status_code, r.json()["error"]) == (400, "PROJECT_REQUIRED")
    r = client.get("/experiments", params={"project": "no-such-project"})
    assert (r.status_code, r.json()["error"]) == (404, "NOT_FOUND")


def test_names_are_unique_per_project_ignoring_case(
    server: RunningServer, client: httpx.Client, project: dict[str, Any]
) -> None:
    first = created(client, project, name="hero")
    for name in ("hero", "HERO"):
        r = create(client, project, name=name)
        assert (r.status_code, r.json()["error"]) == (409, "EXPERIMENT_NAME_EXISTS")
    assert created(client, server.new_project(), name="hero")["id"] != first["id"]
    assert client.delete(f"/experiments/{first['id']}").status_code == 200
    assert created(client, project, name="hero")["id"] != first["id"], "a deleted name is free"


def test_status_transitions_follow_the_contract(
    client: httpx.Client, project: dict[str, Any]
) -> None:
    exp = created(client, project)
    url = f"/experiments/{exp['id']}"

    def move(status: Any, **extra: Any) -> httpx.Response:
        return client.patch(url, json={"status": status, **extra})

    r = move("paused")
    assert r.status_code == 200 and r.json()["status"] == "paused"
    assert r.json()["completed_at"] is None
    assert move("active").json()["status"] == "active"
    assert move("paused").status_code == 200
    for bad in ("paused", "archived", None):
        r = move(bad)
        expected = "MISSING_FIELDS" if bad is None else "INVALID_EXPERIMENT_STATUS"
        assert (r.status_code, r.json()["error"]) == (400, expected), bad
    r = move("active", winner="b")
    assert (r.status_code, r.json()["error"]) == (400, "INVALID_EXPERIMENT_STATUS")
    r = move("completed", winner="zzz")
    assert (r.status_code, r.json()["error"]) == (400, "INVALID_VARIANTS")
    r = move("completed", winner="b")
    assert r.status_code == 200
    done = r.json()
    assert (done["status"], done["winner"]) == ("completed", "b")
    assert done["completed_at"] is not None
    for status in ("active", "paused", "completed"):
        r = move(status)
        assert (r.status_code, r.json()["error"]) == (400, "INVALID_EXPERIMENT_STATUS")
        assert "final" in r.json()["message"]
    assert client.get(url).json()["status"] == "completed"


def test_active_can_complete_directly_without_a_winner(
    client: httpx.Client, project: dict[str, Any]
) -> None:
    exp = created(client, project)
    r = client.patch(f"/experiments/{exp['id']}", json={"status": "completed"})
    assert r.status_code == 200 and r.json()["winner"] is None


def test_unknown_experiments_are_404(client: httpx.Client) -> None:
    for r in (
        client.get("/experiments/exp_nope"),
        client.patch("/experiments/exp_nope", json={"status": "paused"}),
        client.delete("/experiments/exp_nope"),
    ):
        assert (r.status_code, r.json()["error"]) == (404, "EXPERIMENT_NOT_FOUND")


def test_another_account_gets_404_for_everything(
    server: RunningServer, client: httpx.Client, project: dict[str, Any]
) -> None:
    exp = created(client, project)
    url = f"/experiments/{exp['id']}"
    with other_account_client(server) as eve:
        for r in (
            eve.get(url),
            eve.patch(url, json={"status": "paused"}),
            eve.delete(url),
        ):
            assert (r.status_code, r.json()["error"]) == (404, "EXPERIMENT_NOT_FOUND")
        r = eve.get("/experiments", params={"project": project["id"]})
        assert (r.status_code, r.json()["error"]) == (404, "NOT_FOUND")
        r = create(eve, project)
        assert (r.status_code, r.json()["error"]) == (404, "NOT_FOUND")
    assert client.get(url).json()["status"] == "active", "untouched"


def test_a_deleted_project_takes_its_experiments_with_it(
    server: RunningServer, client: httpx.Client
) -> None:
    project = server.new_project()
    exp = created(client, project)
    assert client.delete(f"/projects/{project['id']}").status_code == 200
    r = client.get(f"/experiments/{exp['id']}")
    assert (r.status_code, r.json()["error"]) == (404, "EXPERIMENT_NOT_FOUND")


def test_a_read_scope_key_reads_but_cannot_change(
    server: RunningServer, client: httpx.Client, project: dict[str, Any]
) -> None:
    exp = created(client, project)
    read_key = client.post("/account/keys", json={"name": "r", "scope": "read"}).json()["api_key"]
    url = f"/experiments/{exp['id']}"
    with server.client(read_key) as reader:
        assert reader.get(url).status_code == 200
        assert reader.get("/experiments", params={"project": project["name"]}).status_code == 200
        for r in (
            create(reader, project, name="other"),
            reader.patch(url, json={"status": "paused"}),
            reader.delete(url),
        ):
            assert (r.status_code, r.json()["error"]) == (403, "FORBIDDEN")
    with server.client(None) as anonymous:
        r = anonymous.get(url)
        assert (r.status_code, r.json()["error"]) == (401, "AUTH_REQUIRED")


def test_tracker_config_lists_active_experiments_only(
    server: RunningServer, client: httpx.Client, project: dict[str, Any]
) -> None:
    active = created(client, project, name="active_one", variants=["a", "b"], weights=[30, 70])
    paused = created(client, project, name="paused_one")
    done = created(client, project, name="done_one")
    gone = created(client, project, name="gone_one")
    client.patch(f"/experiments/{paused['id']}", json={"status": "paused"})
    client.patch(f"/experiments/{done['id']}", json={"status": "completed"})
    client.delete(f"/experiments/{gone['id']}")
    r = httpx.get(
        server.url + "/experiments/config",
        params={"token": project["project_token"]},
        headers={"Origin": "https://shop.example"},
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] in ("*", "https://shop.example")
    assert r.json() == {
        "experiments": [
            {
                "key": "active_one",
                "variants": [{"key": "a", "weight": 30}, {"key": "b", "weight": 70}],
            }
        ]
    }
    client.patch(f"/experiments/{paused['id']}", json={"status": "active"})
    keys = [
        e["key"]
        for e in httpx.get(
            server.url + "/experiments/config", params={"token": project["project_token"]}
        ).json()["experiments"]
    ]
    assert keys == ["active_one", "paused_one"], "a change shows at once"
    assert active["status"] == "active"


def test_tracker_config_needs_a_valid_write_key(server: RunningServer) -> None:
    r = httpx.get(server.url + "/experiments/config")
    assert (r.status_code, r.json()["error"]) == (400, "MISSING_FIELDS")
    r = httpx.get(server.url + "/experiments/config", params={"token": "aat_nope"})
    assert (r.status_code, r.json()["error"]) == (401, "INVALID_TOKEN")


def test_delete_removes_the_config_and_keeps_the_events(
    server: RunningServer, client: httpx.Client, project: dict[str, Any]
) -> None:
    exp = created(client, project)
    populate(
        server.url,
        project["project_token"],
        [
            event(
                "$experiment_exposure",
                user="u1",
                ts=datetime.now(UTC),
                experiment="hero",
                variant="b",
            )
        ],
    )
    r = client.delete(f"/experiments/{exp['id']}")
    assert r.status_code == 200 and r.json() == {"ok": True, "deleted": exp["id"]}
    assert client.get(f"/experiments/{exp['id']}").status_code == 404
    assert (
        client.get("/experiments", params={"project": project["name"]}).json()["experiments"] == []
    )
    events = client.get(
        "/events", params={"project": project["name"], "event": "$experiment_exposure"}
    ).json()["events"]
    assert len(events) == 1 and events[0]["properties"]["variant"] == "b"


def test_the_routes_are_in_the_openapi_document(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/experiments"]) == {"get", "post"}
    assert set(paths["/experiments/{id}"]) == {"get", "patch", "delete"}
    assert paths["/experiments/config"]["get"]["security"] == []
    create = paths["/experiments"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create["required"] == ["project", "name", "variants", "goal_event"]
    patch = paths["/experiments/{id}"]["patch"]["requestBody"]["content"]["application/json"]
    assert patch["schema"]["properties"]["status"]["enum"] == ["active", "paused", "completed"]
