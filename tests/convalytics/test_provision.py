"""``POST /api/provision``: unclaimed projects with no account, and their limits."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from agentlytics.projects.provision import ClaimUsed
from tests.conftest import RunningServer
from tests.convalytics.conftest import cnv_event, now_ms, provision


def test_provision_returns_a_write_key_and_links(open_server: RunningServer) -> None:
    made = provision(open_server.url)
    assert set(made) == {"writeKey", "claimUrl", "claimToken", "ingestUrl", "scriptUrl"}
    key, token, url = made["writeKey"], made["claimToken"], open_server.url
    assert key.startswith("aat_")
    assert made["claimUrl"] == f"{url}/claim/{token}"
    assert made["ingestUrl"] == f"{url}/ingest"
    assert made["scriptUrl"] == f"{url}/script.js?key={key}"
    project = open_server.services.meta.get_project_by_write_key(key)
    assert project is not None
    assert project.account_id is None and project.claim_token == token
    assert project.name.startswith("untitled-project")


def test_names_are_trimmed_slugified_and_unique(open_server: RunningServer) -> None:
    meta = open_server.services.meta
    names = []
    for name in ["  Café Shop!  ", "café shop", "x" * 150, 42, "   "]:
        made = provision(open_server.url, {"name": name})
        project = meta.get_project_by_write_key(made["writeKey"])
        assert project is not None
        names.append(project.name)
    assert names[0] == "cafe-shop"
    assert names[1] == "cafe-shop-2"
    assert names[2] == "x" * 56
    assert names[3].startswith("untitled-project") and names[4].startswith("untitled-project")
    assert len(set(names)) == 5


def test_the_write_key_works_at_once_everywhere(open_server: RunningServer) -> None:
    key = provision(open_server.url)["writeKey"]
    assert httpx.post(open_server.url + "/ingest", json=cnv_event(writeKey=key)).status_code == 200
    r = httpx.post(open_server.url + "/track", json={"token": key, "event": "native"})
    assert r.status_code == 202
    body = httpx.get(open_server.url + "/verify", params={"writeKey": key}).json()
    assert body["project"]["claimed"] is False
    assert body["events"]["last24h"] == 2


def test_provisioning_is_idempotent_per_deployment_slug(open_server: RunningServer) -> None:
    first = provision(open_server.url, {"name": "App", "convexDeploymentSlug": "happy-otter-1"})
    again = provision(open_server.url, {"name": "Other", "convexDeploymentSlug": "happy-otter-1"})
    alias = provision(open_server.url, {"deploymentSlug": "happy-otter-1"})
    assert first == again == alias
    other = provision(open_server.url, {"convexDeploymentSlug": "happy-otter-2"})
    assert other["writeKey"] != first["writeKey"]


def test_body_is_optional_but_must_be_json(open_server: RunningServer) -> None:
    r = httpx.post(open_server.url + "/api/provision")
    assert r.status_code == 200
    r = httpx.post(open_server.url + "/api/provision", content=b"{nope")
    assert (r.status_code, r.json()) == (400, {"error": "Invalid JSON"})
    r = httpx.post(open_server.url + "/api/provision", content=b"[1]")
    assert (r.status_code, r.json()) == (400, {"error": "Invalid body"})


def test_public_url_is_used_in_the_links(make_server: Callable[..., RunningServer]) -> None:
    srv = make_server(public_url="https://analytics.example.com/")
    made = provision(srv.url)
    assert made["claimUrl"] == f"https://analytics.example.com/claim/{made['claimToken']}"
    assert made["ingestUrl"] == "https://analytics.example.com/ingest"
    assert made["scriptUrl"].startswith("https://analytics.example.com/script.js?key=aat_")


def test_the_global_limit_answers_429_with_retry_after(
    make_server: Callable[..., RunningServer],
) -> None:
    srv = make_server(provision_rate_global=2, provision_rate_per_ip=0)
    provision(srv.url)
    provision(srv.url)
    r = httpx.post(srv.url + "/api/provision", json={})
    assert r.status_code == 429
    body = r.json()
    assert set(body) == {"error", "message", "retryAfter", "resetAt"}
    assert body["error"] == "rate_limit_exceeded"
    assert 1 <= body["retryAfter"] <= 60
    assert r.headers["Retry-After"] == str(body["retryAfter"])
    assert body["resetAt"] > now_ms() - 1000


def test_the_per_ip_limit_counts_unclaimed_projects_per_client(
    make_server: Callable[..., RunningServer],
) -> None:
    srv = make_server(provision_rate_per_ip=2, provision_rate_global=0, trust_proxy_headers=True)
    provision(srv.url, **{"X-Forwarded-For": "10.0.0.1, 192.168.0.1"})
    provision(srv.url, **{"X-Forwarded-For": "10.0.0.1"})
    r = httpx.post(srv.url + "/api/provision", headers={"X-Forwarded-For": "10.0.0.1"})
    assert r.status_code == 429
    assert set(r.json()) == {"error", "message"}
    assert r.json()["error"] == "provision_limit_exceeded"
    provision(srv.url, **{"X-Forwarded-For": "10.0.0.2"})
    # CF-Connecting-IP comes first
    r = httpx.post(
        srv.url + "/api/provision",
        headers={"CF-Connecting-IP": "10.0.0.1", "X-Forwarded-For": "10.0.0.3"},
    )
    assert r.status_code == 429


def test_without_trusted_proxy_headers_the_peer_ip_counts(
    make_server: Callable[..., RunningServer],
) -> None:
    # (uvicorn itself applies X-Forwarded-For from a loopback peer; CF-Connecting-IP is ours)
    srv = make_server(provision_rate_per_ip=1, provision_rate_global=0)
    provision(srv.url, **{"CF-Connecting-IP": "10.0.0.1"})
    r = httpx.post(srv.url + "/api/provision", headers={"CF-Connecting-IP": "10.0.0.2"})
    assert (r.status_code, r.json()["error"]) == (429, "provision_limit_exceeded")


def test_the_same_slug_again_does_not_use_the_per_ip_allowance(
    make_server: Callable[..., RunningServer],
) -> None:
    srv = make_server(provision_rate_per_ip=1, provision_rate_global=0)
    first = provision(srv.url, {"convexDeploymentSlug": "s-1"})
    assert provision(srv.url, {"convexDeploymentSlug": "s-1"}) == first
    r = httpx.post(srv.url + "/api/provision", json={"convexDeploymentSlug": "s-2"})
    assert r.status_code == 429


def test_the_operator_can_turn_provisioning_off(
    make_server: Callable[..., RunningServer],
) -> None:
    srv = make_server(open_provisioning=False)
    r = httpx.post(srv.url + "/api/provision", json={"name": "x"})
    assert r.status_code == 403
    assert r.json()["error"] == "provisioning_disabled"
    assert "turned off" in r.json()["message"]


def test_cors_preflight(open_server: RunningServer) -> None:
    r = httpx.options(open_server.url + "/api/provision", headers={"Origin": "https://a.example"})
    assert r.status_code == 204
    assert "POST" in r.headers["access-control-allow-methods"]
    r = httpx.post(open_server.url + "/api/provision", json={})
    assert r.headers["access-control-allow-origin"] == "*"


def test_a_claim_another_worker_made_first_is_refused(open_server: RunningServer) -> None:
    """Workers agree on the one claim through the metadata store: the marker another worker
    set wins even before its account id reaches this worker's copy of the project."""
    made = provision(open_server.url, {"name": "claimed-elsewhere"})
    services = open_server.services
    meta = services.projects.meta
    project = meta.get_project_by_write_key(made["writeKey"])
    assert project is not None and project.account_id is None
    other = services.projects.create_account(f"other-{made['claimToken'][-6:]}@example.com")
    mine = services.projects.create_account(f"mine-{made['claimToken'][-6:]}@example.com")
    assert meta.compare_and_set_state(f"claim:{project.id}", None, other.id)
    with pytest.raises(ClaimUsed, match="used already"):
        services.provisioner.claim(made["claimToken"], mine)
    assert meta.get_project(project.id).account_id is None  # type: ignore[union-attr]
