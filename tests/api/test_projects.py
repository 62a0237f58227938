"""Projects, account and keys: contract shapes, the auth matrix and tenant isolation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import OWNER_KEY, RunningServer


def test_create_project_is_201_then_idempotent_200(client: httpx.Client) -> None:
    r = client.post(
        "/projects", json={"name": "my-site.v2", "allowed_origins": "https://a.example"}
    )
    assert r.status_code == 201
    body = r.json()
    assert set(body) >= {
        "id",
        "name",
        "project_token",
        "allowed_origins",
        "source_scan_id",
        "snippet",
        "api_example",
    }
    assert body["project_token"].startswith("aat_")
    assert f'data-token="{body["project_token"]}"' in body["snippet"]
    again = client.post("/projects", json={"name": "MY-SITE.v2"})
    assert again.status_code == 200
    assert again.json() == {
        "id": body["id"],
        "name": "my-site.v2",
        "project_token": body["project_token"],
        "existing": True,
    }


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "semi;colon", 42, None])
def test_project_names_follow_the_contract(client: httpx.Client, name: Any) -> None:
    before = client.get("/projects").json()
    r = client.post("/projects", json={"name": name})
    assert r.status_code == 400
    assert r.json()["error"] == "INVALID_NAME"
    assert client.get("/projects").json() == before, "nothing was made"


def test_get_patch_delete_project(server: RunningServer, client: httpx.Client) -> None:
    p = server.new_project(timezone="Europe/Paris")
    r = client.get(f"/projects/{p['id']}")
    assert r.status_code == 200
    assert r.json()["timezone"] == "Europe/Paris"
    assert r.json()["usage_today"] == 0
    assert client.get(f"/projects/{p['name']}").json()["id"] == p["id"]  # by name too
    r = client.patch(
        f"/projects/{p['id']}",
        json={"allowed_origins": "https://x.example", "timezone": "Asia/Tokyo"},
    )
    assert r.status_code == 200 and r.json()["timezone"] == "Asia/Tokyo"
    assert (
        client.patch(f"/projects/{p['id']}", json={"timezone": "Mars/Base"}).json()["error"]
        == "INVALID_TIMEZONE"
    )
    assert client.patch(f"/projects/{p['id']}", json={"owner": "x"}).status_code == 400
    r = client.patch(f"/projects/{p['id']}", json={"name": "renamed-" + p["name"]})
    assert r.status_code == 200
    httpx.post(server.url + "/track", json={"token": p["project_token"], "event": "e"})
    r = client.patch(f"/projects/{p['id']}", json={"name": "again-" + p["name"]})
    assert r.status_code == 400 and r.json()["error"] == "RENAME_FORBIDDEN"
    assert client.delete(f"/projects/{p['id']}").json()["deleted"] is True
    assert client.get(f"/projects/{p['id']}").status_code == 404
    r = httpx.post(server.url + "/track", json={"token": p["project_token"], "event": "e"})
    assert r.status_code == 401, "a deleted project's token stops working at once"


def test_account_reports_limits_in_the_contract_shape(client: httpx.Client) -> None:
    r = client.get("/account")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {
        "id",
        "email",
        "github_login",
        "tier",
        "created_at",
        "projects_count",
        "tier_limits",
        "monthly_spend_cap_dollars",
    }
    assert set(body["tier_limits"]) == {
        "max_events_per_month",
        "max_projects",
        "max_reads_per_month",
        "retention_days",
        "rate_limit_rpm",
    }
    assert body["tier_limits"]["rate_limit_rpm"] == 1000


def test_auth_matrix(server: RunningServer, project: dict[str, Any]) -> None:
    url = server.url + "/projects"
    assert httpx.get(url).json()["error"] == "AUTH_REQUIRED"
    assert httpx.get(url).status_code == 401
    r = httpx.get(url, headers={"X-API-Key": project["project_token"]})
    assert r.status_code == 401 and r.json()["error"] == "INVALID_TOKEN", "a write key cannot read"
    assert httpx.get(url, headers={"X-API-Key": "aak_unknown"}).status_code == 401
    for how in (
        {"headers": {"X-API-Key": OWNER_KEY}},
        {"params": {"key": OWNER_KEY}},
        {"headers": {"Authorization": f"Bearer {OWNER_KEY}"}},
    ):
        assert httpx.get(url, **how).status_code == 200  # type: ignore[arg-type]
    with server.client() as owner:
        created = owner.post("/account/keys", json={"name": "reader", "scope": "read"})
        assert created.status_code == 201
        read_key = created.json()["api_key"]
        assert read_key not in owner.get("/account/keys").text, "keys are shown once"
    with server.client(read_key) as reader:
        assert reader.get("/projects").status_code == 200
        r = reader.post("/projects", json={"name": "nope"})
        assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN"
        with server.client() as owner:
            assert owner.delete(f"/account/keys/{created.json()['id']}").status_code == 200
        assert reader.get("/projects").status_code == 401, "a revoked key stops at once"


def test_revoke_key_rotates_the_key_in_use(server: RunningServer) -> None:
    with server.client() as owner:
        key = owner.post("/account/keys", json={"name": "rotating", "scope": "full"}).json()[
            "api_key"
        ]
    with server.client(key) as c:
        r = c.post("/account/revoke-key")
        assert r.status_code == 200
        new_key = r.json()["api_key"]
        assert r.json()["ok"] is True and new_key.startswith("aak_") and new_key != key
        assert c.get("/account").status_code == 401
    with server.client(new_key) as c:
        assert c.get("/account").status_code == 200


def test_one_account_never_sees_another_accounts_data(
    server: RunningServer, project: dict[str, Any]
) -> None:
    other = server.services.projects.create_account("mallory@example.com")
    _, mallory_key = server.services.projects.create_api_key(other, "m", "full")
    with server.client(mallory_key) as m:
        assert project["id"] not in m.get("/projects").text
        assert m.get(f"/projects/{project['id']}").status_code == 404
        assert m.get(f"/projects/{project['name']}").status_code == 404
        assert m.patch(f"/projects/{project['id']}", json={"timezone": "UTC"}).status_code == 404
        assert m.delete(f"/projects/{project['id']}").status_code == 404
        same_name = m.post("/projects", json={"name": project["name"]})
        assert same_name.status_code == 201, "names are per account"
        assert same_name.json()["id"] != project["id"]
    with server.client() as owner:
        assert owner.get(f"/projects/{project['id']}").status_code == 200


def test_openapi_describes_every_route(server: RunningServer) -> None:
    from agentlytics.api.routes import ENDPOINTS

    spec = httpx.get(server.url + "/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for ep in ENDPOINTS:
        if ep.documented:
            assert ep.method.lower() in spec["paths"][ep.path], ep.path


def test_health(server: RunningServer) -> None:
    r = httpx.get(server.url + "/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["service"] == "agentlytics"


def test_unknown_route_is_json_404(server: RunningServer) -> None:
    r = httpx.get(server.url + "/nope")
    assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND"
