"""Saved funnels: CRUD over the HTTP API, soft delete, tenancy and key scope; shared core."""

from __future__ import annotations

from typing import Any

from agentlytics.projects import funnels as saved
from tests.conftest import RunningServer
from tests.factories import event, pageview
from tests.helpers import populated_project

DAY = "2026-11-02"
STEPS = [
    {"kind": "pageview", "match": "/blog/*", "label": "Blog"},
    {"kind": "event", "match": "signup"},
]


def test_saved_funnel_lifecycle(server: RunningServer) -> None:
    p = populated_project(
        server,
        [
            pageview("/blog/a", user="a", ts=f"{DAY}T09:00:00"),
            event("signup", user="a", ts=f"{DAY}T09:30:00"),
            pageview("/blog/b", user="b", ts=f"{DAY}T09:00:00"),
            event("signup", user="b", ts=f"{DAY}T12:00:00"),
        ],
    )
    with server.client() as c:
        r = c.post(
            "/funnels",
            json={
                "project": p["name"],
                "name": "Blog to signup",
                "steps": STEPS,
                "conversion_window_ms": 3_600_000,
            },
        )
        assert r.status_code == 201, r.text
        made = r.json()
        assert (made["name"], made["project_id"], made["conversion_window_ms"]) == (
            "Blog to signup",
            p["id"],
            3_600_000,
        )
        assert made["steps"] == STEPS
        fid = made["id"]

        listed = c.get("/funnels", params={"project": p["name"]}).json()["funnels"]
        assert [f["id"] for f in listed] == [fid]

        # b signed up 3 h after reading: outside the 1 h window
        got = c.get(f"/funnels/{fid}", params={"since": DAY, "until": DAY}).json()
        assert got["name"] == "Blog to signup" and got["project"] == p["name"]
        assert [(s["event"], s["users"]) for s in got["results"]["steps"]] == [
            ("Blog", 2),
            ("signup", 1),
        ]
        assert got["results"]["steps"][1]["conversion_from_start"] == 0.5
        assert got["results"]["avg_time_to_convert_ms"] == 1_800_000

        r = c.patch(
            f"/funnels/{fid}", json={"name": "Blog → signup", "conversion_window_ms": 86_400_000}
        )
        assert r.status_code == 200 and r.json()["name"] == "Blog → signup"
        got = c.get(f"/funnels/{fid}", params={"since": DAY, "until": DAY}).json()
        assert [s["users"] for s in got["results"]["steps"]] == [2, 2]
        assert got["updated_at"] >= got["created_at"]

        r = c.delete(f"/funnels/{fid}")
        assert r.status_code == 200 and r.json()["ok"] is True
        assert c.get(f"/funnels/{fid}").status_code == 404
        assert c.patch(f"/funnels/{fid}", json={"name": "x"}).status_code == 404
        assert c.delete(f"/funnels/{fid}").status_code == 404
        assert c.get("/funnels", params={"project": p["name"]}).json()["funnels"] == []
    # soft delete: the document is still stored, marked deleted
    doc = server.services.meta.get_doc(saved.KIND, fid)
    assert doc is not None and doc["deleted_at"] is not None


def test_definitions_are_checked(server: RunningServer) -> None:
    p = server.new_project()
    bad_steps: list[Any] = [
        [STEPS[0]],
        [STEPS[0]] * 11,
        [STEPS[0], {"kind": "click", "match": "x"}],
        [STEPS[0], {"kind": "event", "match": "a*b"}],
        [STEPS[0], {"kind": "event"}],
        "signup",
    ]
    with server.client() as c:
        for steps in bad_steps:
            r = c.post("/funnels", json={"project": p["id"], "name": "f", "steps": steps})
            assert r.status_code == 400 and r.json()["error"] == "INVALID_FUNNEL_STEPS", steps
        for window in (59_999, 90 * 86_400_000 + 1, "7d"):
            r = c.post(
                "/funnels",
                json={
                    "project": p["id"],
                    "name": "f",
                    "steps": STEPS,
                    "conversion_window_ms": window,
                },
            )
            assert r.status_code == 400 and r.json()["error"] == "INVALID_PARAMETER", window
        r = c.post("/funnels", json={"project": p["id"], "name": " ", "steps": STEPS})
        assert r.json()["error"] == "INVALID_NAME"
        ok = c.post(
            "/funnels",
            json={
                "project": p["id"],
                "name": "ten",
                "steps": [STEPS[1]] * 10,
                "conversion_window_ms": 60_000,
            },
        )
        assert ok.status_code == 201
        r = c.patch(f"/funnels/{ok.json()['id']}", json={"owner": "me"})
        assert r.status_code == 400 and "conversion_window_ms" in r.json()["message"]


def test_other_accounts_see_nothing_and_read_keys_cannot_write(server: RunningServer) -> None:
    p = server.new_project()
    owner = server.services.projects.owner()
    assert owner is not None
    project = server.services.projects.get_project(owner, p["id"])
    # the core functions the MCP server calls write the same store the HTTP API reads
    made = saved.create_funnel(server.services.meta, project, name="core", steps=STEPS)

    eve = server.services.projects.create_account("eve-funnels@example.com")
    _, eve_key = server.services.projects.create_api_key(eve, "e", "full")
    with server.client(eve_key) as c:
        assert c.get(f"/funnels/{made.id}").status_code == 404
        assert c.patch(f"/funnels/{made.id}", json={"name": "mine"}).status_code == 404
        assert c.delete(f"/funnels/{made.id}").status_code == 404
        assert c.get("/funnels", params={"project": p["id"]}).status_code == 404
        r = c.post("/funnels", json={"project": p["id"], "name": "x", "steps": STEPS})
        assert r.status_code == 404

    _, read_key = server.services.projects.create_api_key(owner, "r", "read")
    with server.client(read_key) as c:
        assert c.get(f"/funnels/{made.id}").status_code == 200
        assert [
            f["name"] for f in c.get("/funnels", params={"project": p["id"]}).json()["funnels"]
        ] == ["core"]
        for r in (
            c.post("/funnels", json={"project": p["id"], "name": "x", "steps": STEPS}),
            c.patch(f"/funnels/{made.id}", json={"name": "x"}),
            c.delete(f"/funnels/{made.id}"),
        ):
            assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN"
    with server.client() as c:
        other = server.new_project()
        # pinned to another project of the same account, the funnel is not there
        assert c.get(f"/funnels/{made.id}", params={"project": other["id"]}).status_code == 404
        assert c.get(f"/funnels/{made.id}", params={"project": p["id"]}).status_code == 200
    assert saved.get_funnel(server.services.meta, owner.id, made.id).name == "core"
