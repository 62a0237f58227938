"""Projects, account and keys: contract shapes, the auth matrix and tenant isolation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import OWNER_KEY, RunningServer, start_server
from tests.factories import event, pageview, populate
from tests.web.conftest import page_csrf, sign_up


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


def test_a_key_revoked_by_the_cli_stops_at_once(server: RunningServer) -> None:
    """``agentlytics keys revoke`` (another process: the server's caches never hear of it)
    against a running server: the key's very next request is refused."""
    from typer.testing import CliRunner

    from agentlytics.cli import app

    with server.client() as owner:
        made = owner.post("/account/keys", json={"name": "cli-revoked", "scope": "read"}).json()
    with server.client(made["api_key"]) as c:
        assert c.get("/account").status_code == 200  # known to the server now
        done = CliRunner().invoke(
            app, ["keys", "revoke", made["id"], "--data-dir", str(server.data_dir)]
        )
        assert done.exit_code == 0, done.output
        r = c.get("/account")
        assert r.status_code == 401 and r.json()["error"] == "INVALID_TOKEN", r.text


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


# The security matrix over the whole route table ---------------------------------------------
#
# Every route of ``api/routes.py`` is classified here: a new route fails
# ``test_the_matrix_classifies_every_route`` until it is. Each route that needs an API key has a
# request naming the victim's objects: ``{P}`` the victim's project (by name, id or write key),
# ``{F}`` a saved funnel, ``{X}`` an experiment, ``{K}`` an API key, ``{N}`` a fresh name.

ROUTE_REQUESTS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("GET", "/projects"): ("/projects", {}),
    ("POST", "/projects"): ("/projects", {"json": {"name": "{N}"}}),
    ("GET", "/projects/{id}"): ("/projects/{P}", {}),
    ("PATCH", "/projects/{id}"): ("/projects/{P}", {"json": {"timezone": "Asia/Tokyo"}}),
    ("DELETE", "/projects/{id}"): ("/projects/{P}", {}),
    ("GET", "/account"): ("/account", {}),
    ("POST", "/account/revoke-key"): ("/account/revoke-key", {}),
    ("GET", "/account/keys"): ("/account/keys", {}),
    ("POST", "/account/keys"): ("/account/keys", {"json": {"name": "{N}", "scope": "read"}}),
    ("DELETE", "/account/keys/{key_id}"): ("/account/keys/{K}", {}),
    ("GET", "/stats"): ("/stats", {"params": {"project": "{P}"}}),
    ("GET", "/events"): ("/events", {"params": {"project": "{P}"}}),
    ("POST", "/query"): ("/query", {"json": {"project": "{P}"}}),
    ("GET", "/properties"): ("/properties", {"params": {"project": "{P}"}}),
    ("GET", "/properties/received"): ("/properties/received", {"params": {"project": "{P}"}}),
    ("GET", "/breakdown"): ("/breakdown", {"params": {"project": "{P}", "property": "plan"}}),
    ("GET", "/mcp-servers"): ("/mcp-servers", {"params": {"project": "{P}"}}),
    ("POST", "/funnel"): (
        "/funnel",
        {"json": {"project": "{P}", "steps": [{"event": "page_view"}, {"event": "signup"}]}},
    ),
    ("GET", "/retention"): ("/retention", {"params": {"project": "{P}"}}),
    ("POST", "/paths"): ("/paths", {"json": {"project": "{P}", "goal_event": "signup"}}),
    ("GET", "/funnels"): ("/funnels", {"params": {"project": "{P}"}}),
    ("POST", "/funnels"): (
        "/funnels",
        {
            "json": {
                "project": "{P}",
                "name": "{N}",
                "steps": [{"kind": "pageview", "match": "/"}, {"kind": "event", "match": "s"}],
            }
        },
    ),
    ("GET", "/funnels/{id}"): ("/funnels/{F}", {}),
    ("PATCH", "/funnels/{id}"): ("/funnels/{F}", {"json": {"name": "{N}"}}),
    ("DELETE", "/funnels/{id}"): ("/funnels/{F}", {}),
    ("GET", "/sessions"): ("/sessions", {"params": {"project": "{P}"}}),
    ("GET", "/sessions/distribution"): ("/sessions/distribution", {"params": {"project": "{P}"}}),
    ("GET", "/pages"): ("/pages", {"params": {"project": "{P}"}}),
    ("GET", "/insights"): ("/insights", {"params": {"project": "{P}"}}),
    ("GET", "/heatmap"): ("/heatmap", {"params": {"project": "{P}"}}),
    ("GET", "/bot-traffic"): ("/bot-traffic", {"params": {"project": "{P}"}}),
    ("GET", "/project-context"): ("/project-context", {"params": {"project": "{P}"}}),
    ("PUT", "/project-context"): ("/project-context", {"json": {"project": "{P}", "goals": ["x"]}}),
    ("GET", "/live"): ("/live", {"params": {"project": "{P}"}}),
    ("GET", "/stream"): ("/stream", {"params": {"project": "{P}"}}),
    ("POST", "/experiments"): (
        "/experiments",
        {
            "json": {
                "project": "{P}",
                "name": "{N}",
                "variants": ["control", "b"],
                "goal_event": "signup",
            }
        },
    ),
    ("GET", "/experiments"): ("/experiments", {"params": {"project": "{P}"}}),
    ("GET", "/experiments/{id}"): ("/experiments/{X}", {}),
    ("PATCH", "/experiments/{id}"): ("/experiments/{X}", {"json": {"status": "paused"}}),
    ("DELETE", "/experiments/{id}"): ("/experiments/{X}", {}),
}
#: routes that name no project or object: another account's answer must simply not show ours
ACCOUNT_ROUTES = {
    ("GET", "/projects"),
    ("POST", "/projects"),
    ("GET", "/account"),
    ("POST", "/account/revoke-key"),
    ("GET", "/account/keys"),
    ("POST", "/account/keys"),
}
#: routes open to a write key or to anyone, by contract (writes, the tracker's own reads of
#: its project's config and ``/verify``, scripts, discovery, health)
PUBLIC_ROUTES = {
    ("POST", "/track"),
    ("POST", "/track/batch"),
    ("POST", "/identify"),
    ("POST", "/api/v1/capture-session"),
    ("POST", "/api/v1/capture-event"),
    ("POST", "/api/v1/api/v1/capture-session"),
    ("POST", "/api/v1/api/v1/capture-event"),
    ("GET", "/health"),
    ("POST", "/api/provision"),
    ("OPTIONS", "/api/provision"),
    ("POST", "/ingest"),
    ("POST", "/ingest/batch"),
    ("GET", "/verify"),
    ("OPTIONS", "/verify"),
    ("GET", "/script.js"),
    ("GET", "/tracker.js"),
    ("GET", "/llms.txt"),
    ("GET", "/llms-full.txt"),
    ("GET", "/.well-known/mcp/server-card.json"),
    ("GET", "/query/schema"),
    ("GET", "/experiments/config"),
}
ROUTES = sorted(ROUTE_REQUESTS)
ROUTE_IDS = [f"{m} {p}" for m, p in ROUTES]


def test_the_matrix_classifies_every_route() -> None:
    from agentlytics.api.routes import ENDPOINTS

    keyed = {(ep.method, ep.path) for ep in ENDPOINTS if ep.auth == "api_key"}
    public = {(ep.method, ep.path) for ep in ENDPOINTS if ep.auth != "api_key"}
    assert keyed == set(ROUTE_REQUESTS), "every API-key route needs a row in ROUTE_REQUESTS"
    assert public == PUBLIC_ROUTES, "a new public route: is it meant to be open?"


@dataclass
class Tenants:
    """A private server with the victim's objects, and a second account that probes them."""

    server: RunningServer
    project: dict[str, Any]
    funnel_id: str
    experiment_id: str
    key_id: str
    stranger: Any  # the stranger's Account
    stranger_project: dict[str, Any]
    session: httpx.Client  # a web session of a third account, as the dashboard reads the API

    def refs(self) -> dict[str, str]:
        return {
            "name": self.project["name"],
            "id": self.project["id"],
            "token": self.project["project_token"],
        }

    def stranger_key(self) -> str:
        return self.server.services.projects.create_api_key(self.stranger, "probe", "full")[1]

    def intact(self) -> None:
        """The victim's objects are all there and unchanged."""
        with self.server.client() as owner:
            p = owner.get(f"/projects/{self.project['id']}")
            assert p.status_code == 200 and p.json()["timezone"] == "UTC", p.text
            f = owner.get(f"/funnels/{self.funnel_id}")
            assert f.status_code == 200 and f.json()["name"] == "victim-funnel", f.text
            x = owner.get(f"/experiments/{self.experiment_id}")
            assert x.status_code == 200 and x.json()["status"] == "active", x.text
            c = owner.get("/project-context", params={"project": self.project["id"]})
            assert c.json()["project_context"]["goals"] == ["victim goal"], c.text
            keys = {k["id"]: k for k in owner.get("/account/keys").json()["keys"]}
            assert keys[self.key_id]["revoked_at"] is None
        r = httpx.post(
            self.server.url + "/track", json={"token": self.project["project_token"], "event": "e"}
        )
        assert r.status_code == 202, "the victim's write key still works"


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    running, stop = start_server(tmp_path_factory.mktemp("tenants"), ingest_rate_limit=0)
    victim = running.new_project(name="victim-site")
    populate(
        running.url,
        victim["project_token"],
        [pageview("/secret", user="u1", session="s1"), event("signup", user="u1", session="s1")],
    )
    with running.client() as owner:
        steps = [{"kind": "pageview", "match": "/"}, {"kind": "event", "match": "signup"}]
        funnel = owner.post(
            "/funnels", json={"project": victim["id"], "name": "victim-funnel", "steps": steps}
        )
        assert funnel.status_code == 201, funnel.text
        exp = owner.post(
            "/experiments",
            json={
                "project": victim["id"],
                "name": "victim_exp",
                "variants": ["control", "b"],
                "goal_event": "signup",
            },
        )
        assert exp.status_code == 201, exp.text
        key = owner.post("/account/keys", json={"name": "victim-key", "scope": "read"})
        assert key.status_code == 201, key.text
        ctx = owner.put(
            "/project-context", json={"project": victim["id"], "goals": ["victim goal"]}
        )
        assert ctx.status_code == 200, ctx.text
    stranger = running.services.projects.create_account("stranger@tenants.example")
    found = Tenants(
        server=running,
        project=victim,
        funnel_id=funnel.json()["id"],
        experiment_id=exp.json()["id"],
        key_id=key.json()["id"],
        stranger=stranger,
        stranger_project={},
        session=sign_up(running.url, "browser@tenants.example"),
    )
    with running.client(found.stranger_key()) as s:
        found.stranger_project = s.post("/projects", json={"name": "stranger-site"}).json()
    yield found
    found.session.close()
    stop()


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for mark, real in names.items():
            value = value.replace("{" + mark + "}", real)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


def _probe(
    client: httpx.Client, route: tuple[str, str], names: dict[str, str], **extra: Any
) -> httpx.Response:
    path, request = ROUTE_REQUESTS[route]
    request = _fill(request, names)
    for part, values in extra.items():
        request[part] = {**request.get(part, {}), **values}
    with client.stream(route[0], _fill(path, names), **request) as r:
        r.read()  # an SSE answer that is refused is a plain JSON body
        return r


def _names(t: Tenants, project_ref: str) -> dict[str, str]:
    return {
        "P": project_ref,
        "F": t.funnel_id,
        "X": t.experiment_id,
        "K": t.key_id,
        "N": f"n-{uuid.uuid4().hex[:8]}",
    }


@pytest.mark.parametrize("how", ["x-api-key", "bearer", "query"])
@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_a_write_key_opens_no_api_key_route(
    tenants: Tenants, route: tuple[str, str], how: str
) -> None:
    token = tenants.project["project_token"]
    sent: dict[str, Any] = {
        "x-api-key": {"headers": {"X-API-Key": token}},
        "bearer": {"headers": {"Authorization": f"Bearer {token}"}},
        "query": {"params": {"key": token}},
    }[how]
    with httpx.Client(base_url=tenants.server.url, timeout=30) as c:
        r = _probe(c, route, _names(tenants, tenants.project["id"]), **sent)
    assert r.status_code == 401, r.text
    body = r.json()
    assert set(body) == {"error", "message"} and body["error"] == "INVALID_TOKEN", body
    if route[0] != "GET":
        tenants.intact()


#: what a made-up reference gets: the answer to another account's object must be the same
GHOSTS = {"P": "ghost-site", "F": "fun_ghost", "X": "exp_ghost", "K": "key_ghost"}


def _assert_hidden(
    t: Tenants,
    route: tuple[str, str],
    client: httpx.Client,
    names: dict[str, str],
    **extra: Any,
) -> None:
    """Another account's answer: the same as for an object that does not exist (404), or for
    the account routes, an answer about its own account only."""
    r = _probe(client, route, names, **extra)
    if route in ACCOUNT_ROUTES:
        refused = route == ("POST", "/account/revoke-key") and r.status_code == 403
        assert r.status_code in (200, 201) or refused, r.text  # a session has no key to rotate
        for secret in (t.project["id"], t.project["project_token"], t.key_id, "victim"):
            assert secret not in r.text, (route, secret)
        return
    assert r.status_code == 404, r.text
    body = r.json()
    assert set(body) == {"error", "message"}, body
    assert body["error"] in {"NOT_FOUND", "EXPERIMENT_NOT_FOUND"}, body
    ghost = _probe(client, route, {**names, **GHOSTS}, **extra).json()
    message = body["message"]
    for mark, made_up in GHOSTS.items():
        message = message.replace(names[mark], made_up)
    assert {**body, "message": message} == ghost, "answered unlike a missing object"


@pytest.mark.parametrize("ref", ["name", "id", "token"])
@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_another_account_finds_nothing_of_ours(
    tenants: Tenants, route: tuple[str, str], ref: str
) -> None:
    names = _names(tenants, tenants.refs()[ref])
    with tenants.server.client(tenants.stranger_key()) as s:
        _assert_hidden(tenants, route, s, names)
        if "{id}" in route[1]:  # the victim's object named under the stranger's own project
            own = {"params": {"project": tenants.stranger_project["id"]}}
            _assert_hidden(tenants, route, s, names, **own)
    if route[0] != "GET":
        tenants.intact()


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_another_accounts_web_session_finds_nothing_of_ours(
    tenants: Tenants, route: tuple[str, str]
) -> None:
    """The dashboard reads the same routes with its session cookie (``web/api_session.py``)."""
    csrf = {"headers": {"X-CSRF-Token": page_csrf(tenants.session)}}
    for ref in tenants.refs().values():
        _assert_hidden(tenants, route, tenants.session, _names(tenants, ref), **csrf)
    if route[0] != "GET":
        tenants.intact()
