"""``agentlytics migrate``: an embedded installation moves to PostgreSQL + ClickHouse intact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from agentlytics.cli import app
from agentlytics.storage import registry
from agentlytics.storage.ports import EventStore
from tests.conftest import start_server
from tests.factories import event, pageview, populate
from tests.storage import backends

pytestmark = pytest.mark.scaleout

BOT_UA = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)"
)


def embedded_installation(data_dir: Path) -> list[dict[str, Any]]:
    """A data directory with two projects, events over two months, identities and bot hits."""
    running, stop = start_server(data_dir)
    try:
        projects = [running.new_project(), running.new_project()]
        for n, project in enumerate(projects):
            populate(
                running.url,
                project["project_token"],
                [
                    pageview(f"/p{i}", user=f"u{i % 7}", ts=f"2026-0{1 + i % 2}-1{i % 9}T10:00:00")
                    for i in range(120 + n)
                ]
                + [event("signup", user="u1", plan="pro")],
            )
            with httpx.Client(base_url=running.url) as client:
                r = client.post(
                    "/identify",
                    json={
                        "token": project["project_token"],
                        "previous_id": "anon",
                        "user_id": "u1",
                    },
                )
                assert r.status_code == 202
                r = client.post(
                    "/track",
                    json={"token": project["project_token"], "event": "page_view"},
                    headers={"User-Agent": BOT_UA, "Origin": "https://shop.example"},
                )
                assert r.status_code == 202
        running.services.meta.put_doc("funnel", "f1", projects[0]["id"], {"steps": ["a", "b"]})
    finally:
        stop()
    return projects


def snapshot(store: EventStore) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "events": store.query(
            "SELECT project_id, event_id, name, timestamp, user_id, path, properties "
            "FROM events ORDER BY project_id, event_id"
        ).rows,
        "identities": store.query(
            "SELECT project_id, previous_id, user_id "
            f"FROM {backends.IDENTITIES[store.dialect]} ORDER BY project_id"
        ).rows,
        "bot_hits": store.query(
            "SELECT project_id, actor, name FROM bot_hits ORDER BY project_id"
        ).rows,
    }


def test_migrate_copies_everything_and_a_rerun_adds_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "embedded"
    projects = embedded_installation(data_dir)
    source = backends.settings(data_dir=str(data_dir))
    with backends.chdb_database() as events_url, backends.postgres_database() as meta_url:
        args = ["migrate", "--data-dir", str(data_dir), "--to-events", events_url]
        args += ["--to-meta", meta_url, "--chunk", "100"]
        first = CliRunner().invoke(app, args)
        assert first.exit_code == 0, first.output
        assert "events: 243 copied, 0 were there already" in first.output
        again = CliRunner().invoke(app, args)
        assert again.exit_code == 0, again.output
        assert "events: 0 copied, 243 were there already" in again.output
        assert "bot hits: 2 copied" in first.output
        assert "bot hits: the destination has some already" in again.output

        target = backends.settings(
            data_dir=str(tmp_path / "unused"), events=events_url, meta=meta_url
        )
        stores = [registry.open_event_store(s) for s in (source, target)]
        metas = [registry.open_meta_store(s) for s in (source, target)]
        try:
            assert snapshot(stores[0]) == snapshot(stores[1])
            assert metas[0].export_rows() == metas[1].export_rows()
        finally:
            for store in stores:
                store.close()
            for meta in metas:
                meta.close()

        # the scale-out server answers with the embedded server's keys and projects
        running, stop = start_server(tmp_path / "scaled", events=events_url, meta=meta_url)
        try:
            with running.client() as client:
                listed = client.get("/projects").json()
            assert {p["name"] for p in listed["projects"]} == {p["name"] for p in projects}
        finally:
            stop()


def test_migrate_refuses_a_destination_with_accounts_of_its_own(tmp_path: Path) -> None:
    embedded_installation(tmp_path / "embedded")
    with backends.chdb_database() as events_url, backends.postgres_database() as meta_url:
        _, stop = start_server(tmp_path / "other", events=events_url, meta=meta_url)
        stop()
        result = CliRunner().invoke(
            app,
            [
                "migrate",
                "--data-dir",
                str(tmp_path / "embedded"),
                "--to-events",
                events_url,
                "--to-meta",
                meta_url,
            ],
        )
        assert result.exit_code == 2
        assert "has accounts of its own" in result.output
