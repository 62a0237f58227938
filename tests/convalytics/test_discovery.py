"""The tracker script routes and the discovery files agents read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from agentlytics.api import convalytics
from agentlytics.api.discovery import doc_pages
from agentlytics.web import TRACKER_JS
from tests.conftest import RunningServer

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("path", ["/script.js?key=aat_x", "/tracker.js"])
def test_the_tracker_is_served_with_a_five_minute_cache(server: RunningServer, path: str) -> None:
    r = httpx.get(server.url + path)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/javascript"
    assert r.headers["cache-control"] == "public, max-age=300"
    assert r.content == TRACKER_JS.read_bytes()


def test_a_missing_tracker_build_answers_503(
    make_server: Callable[..., RunningServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    srv = make_server()
    monkeypatch.setattr(convalytics, "TRACKER_JS", tmp_path / "missing.js")
    r = httpx.get(srv.url + "/script.js?key=aat_x")
    assert r.status_code == 503
    assert r.json()["error"] == "tracker_not_built"


def test_llms_txt_is_a_short_index_of_the_docs(server: RunningServer) -> None:
    r = httpx.get(server.url + "/llms.txt")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert text.startswith("# agentlytics\n")
    assert f"{server.url}/llms-full.txt" in text
    assert f"{server.url}/api/provision" in text
    for page in doc_pages():
        title = next(line[2:] for line in page.read_text().splitlines() if line.startswith("# "))
        assert f"- {title}" in text
    assert len(text) < 8000


def test_llms_full_txt_holds_every_docs_page(server: RunningServer) -> None:
    text = httpx.get(server.url + "/llms-full.txt").text
    pages = sorted(p.name for p in DOCS.glob("*.md"))
    assert pages, "docs/*.md exist in the source tree"
    positions = []
    for name in pages:
        marker = f"<!-- docs/{name} -->"
        assert marker in text
        body = (DOCS / name).read_text().strip()
        assert body in text
        positions.append((text.index(marker), name))
    assert "docs/dev/" not in text
    order = [name for _, name in sorted(positions)]
    if "agent-setup.md" in order and "cli.md" in order:
        assert order.index("agent-setup.md") < order.index("cli.md")


def test_the_mcp_server_card(server: RunningServer) -> None:
    r = httpx.get(server.url + "/.well-known/mcp/server-card.json")
    assert r.status_code == 200
    card = r.json()
    assert card["name"] == "agentlytics"
    assert card["serverUrl"] == f"{server.url}/mcp"
    assert card["auth"]["type"] == "bearer"


def test_openapi_lists_the_convalytics_routes(server: RunningServer) -> None:
    paths = httpx.get(server.url + "/openapi.json").json()["paths"]
    assert "post" in paths["/api/provision"]
    assert "post" in paths["/ingest"] and "post" in paths["/ingest/batch"]
    assert "get" in paths["/verify"]
    assert paths["/ingest"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "required"
    ] == ["writeKey", "name", "userId", "sessionId", "timestamp"]
