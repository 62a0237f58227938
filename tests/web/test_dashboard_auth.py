"""The web session as an API credential, page ownership, headers and the static files
(plain HTTP against the real server; the browser tests drive the same rules through pages)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RunningServer
from tests.web.conftest import page_csrf, sign_up


@pytest.fixture(scope="module")
def alice(dash_server: RunningServer) -> Iterator[httpx.Client]:
    client = sign_up(dash_server.url, "alice@auth.example")
    r = client.post(
        "/projects", json={"name": "alice-site"}, headers={"X-CSRF-Token": page_csrf(client)}
    )
    assert r.status_code == 201, r.text
    yield client
    client.close()


@pytest.fixture(scope="module")
def bob(dash_server: RunningServer) -> Iterator[httpx.Client]:
    client = sign_up(dash_server.url, "bob@auth.example")
    yield client
    client.close()


def test_the_session_cookie_reads_the_api_as_its_account(alice: httpx.Client) -> None:
    assert alice.get("/stats", params={"project": "alice-site"}).status_code == 200
    assert [p["name"] for p in alice.get("/projects").json()["projects"]] == ["alice-site"]
    assert alice.get("/account").json()["email"] == "alice@auth.example"


def test_changes_need_the_csrf_header(alice: httpx.Client) -> None:
    body = {"name": "csrf-probe"}
    for headers in ({}, {"X-CSRF-Token": "not-the-token"}):
        r = alice.post("/projects", json=body, headers=headers)
        assert r.status_code == 403
        assert r.json()["error"] == "CSRF_FAILED"
    r = alice.post("/projects", json=body, headers={"X-CSRF-Token": page_csrf(alice)})
    assert r.status_code == 201
    r = alice.delete("/projects/csrf-probe", headers={"X-CSRF-Token": page_csrf(alice)})
    assert r.status_code == 200


def test_an_api_key_wins_over_the_cookie(alice: httpx.Client, dash_server: RunningServer) -> None:
    r = alice.get("/stats", params={"project": "alice-site"}, headers={"X-API-Key": "aak_wrong"})
    assert r.status_code == 401
    # the owner's key sees the owner's account, not alice's, even with alice's cookie
    r = alice.get("/account", headers={"X-API-Key": dash_server.owner_key})
    assert r.json()["email"] != "alice@auth.example"


def test_revoke_key_needs_a_real_key(alice: httpx.Client) -> None:
    r = alice.post("/account/revoke-key", headers={"X-CSRF-Token": page_csrf(alice)})
    assert r.status_code == 403
    assert r.json()["error"] == "API_KEY_REQUIRED"
    assert alice.get("/account/keys").json()["keys"] == []


def test_another_accounts_project_is_missing(bob: httpx.Client, alice: httpx.Client) -> None:
    project_id = alice.get("/projects").json()["projects"][0]["id"]
    for ref in ("alice-site", project_id):
        assert bob.get("/stats", params={"project": ref}).status_code == 404
        page = bob.get(f"/p/{ref}")
        assert page.status_code == 404
        assert "alice-site" not in page.text
        assert bob.get(f"/p/{ref}/settings").status_code == 404
    assert alice.get("/p/alice-site").status_code == 200
    assert alice.get(f"/p/{project_id}/users").status_code == 200
    assert alice.get("/p/alice-site/no-such-section").status_code == 404


def test_pages_need_a_session(dash_server: RunningServer) -> None:
    with httpx.Client(base_url=dash_server.url) as anonymous:
        for path in ("/", "/p/alice-site", "/p/alice-site/live?period=30d"):
            r = anonymous.get(path)
            assert r.status_code == 303
            assert r.headers["location"].startswith("/signin?next=%2F")
        assert anonymous.get("/stats", params={"project": "alice-site"}).status_code == 401


def test_signing_out_ends_api_access(dash_server: RunningServer) -> None:
    client = sign_up(dash_server.url, "carol@auth.example")
    try:
        token = page_csrf(client)
        assert client.get("/projects").status_code == 200
        assert client.post("/signout", data={"csrf_token": token}).status_code == 303
        assert client.get("/projects").status_code == 401
    finally:
        client.close()


def test_pages_are_not_framed_cached_or_scripted_inline(alice: httpx.Client) -> None:
    r = alice.get("/p/alice-site")
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src" not in csp
    assert "<script>" not in r.text  # every script is a file from /static
    assert 'data-csrf="' in r.text


def test_query_text_is_escaped(alice: httpx.Client) -> None:
    r = alice.get("/", params={"claimed": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text


def test_static_files(dash_server: RunningServer) -> None:
    with httpx.Client(base_url=dash_server.url) as c:
        for name, kind in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")):
            r = c.get(f"/static/{name}")
            assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
            assert r.headers["x-content-type-options"] == "nosniff"
        for path in ("/static/tracker.js", "/static/..%2fauth.py", "/static/vendor/other.js"):
            assert c.get(path).status_code == 404
        vendor = c.get("/static/vendor/uPlot.iife.min.js")
        assert vendor.status_code in (200, 404)  # 404 only where `npm ci` has not run
        if vendor.status_code == 200:
            assert "uPlot" in vendor.text[:2000]
