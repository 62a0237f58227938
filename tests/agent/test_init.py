"""``agentlytics init`` on the three fixture apps: patches, idempotence, dry run."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from agentlytics.agent.init import deployment_slug
from agentlytics.agent.skill import SKILL_PATH
from tests.agent.conftest import cli, copy_app, snapshot
from tests.conftest import RunningServer


def config_of(root: Path) -> dict[str, str]:
    return dict(json.loads((root / ".agentlytics.json").read_text()))


def test_init_on_a_fastapi_app_patches_it_and_a_second_run_changes_nothing(
    agent_server: RunningServer, tmp_path: Path
) -> None:
    root = copy_app("fastapi_app", tmp_path)
    (root / ".env").write_text("DEBUG=1")
    result = cli("init", "--url", agent_server.url, "--dir", str(root))
    assert result.exit_code == 0, result.output
    assert "FastAPI" in result.output
    config = config_of(root)
    assert set(config) == {"writeKey", "claimUrl", "url", "slug"}
    assert config["writeKey"].startswith("aat_")
    assert config["url"] == agent_server.url
    assert config["claimUrl"].startswith(f"{agent_server.url}/claim/")
    assert config["claimUrl"] in result.output
    assert config["slug"] == deployment_slug(root)

    assert (root / ".gitignore").read_text() == "__pycache__/\n.venv/\n.agentlytics.json\n"
    assert (root / ".env").read_text() == (
        f"DEBUG=1\nAGENTLYTICS_WRITE_KEY={config['writeKey']}\nAGENTLYTICS_URL={agent_server.url}\n"
    )
    base = (root / "app/templates/base.html").read_text()
    tag = f'<script defer src="{agent_server.url}/script.js?key={config["writeKey"]}"></script>'
    assert f"    {tag}\n  </head>" in base
    assert "script.js" not in (root / "app/templates/index.html").read_text()
    assert (root / "requirements.txt").read_text().splitlines()[-1] == "agentlytics-sdk"
    skill = (root / SKILL_PATH).read_text()
    assert skill.startswith("---\nname: agentlytics\n")
    assert "noun_verb" in skill and "agentlytics verify" in skill and "track(" in skill

    project = agent_server.services.meta.get_project_by_write_key(config["writeKey"])
    assert project is not None
    assert project.account_id is None and project.deployment_slug == config["slug"]
    assert project.name == "fastapi_app"

    before = snapshot(root)
    again = cli("init", "--url", agent_server.url, "--dir", str(root))
    assert again.exit_code == 0, again.output
    assert "Nothing to change" in again.output
    assert snapshot(root) == before
    dry = cli("init", "--dir", str(root), "--dry-run")
    assert "Nothing to change." in dry.output
    assert snapshot(root) == before


def test_dry_run_prints_a_diff_and_writes_nothing(
    agent_server: RunningServer, tmp_path: Path
) -> None:
    root = copy_app("static_site", tmp_path)
    before = snapshot(root)
    result = cli("init", "--url", agent_server.url, "--dir", str(root), "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "static site" in out
    assert "--- a/index.html\n+++ b/index.html\n" in out
    assert '+  <script defer src="' in out and "/script.js?key=aat_PROVISIONED_ON_RUN" in out
    assert "--- /dev/null\n+++ b/.agentlytics.json\n" in out
    assert "+++ b/.gitignore" in out and "+++ b/.env" in out
    assert f"+++ b/{SKILL_PATH}" in out
    assert snapshot(root) == before
    assert agent_server.services.meta.find_project(deployment_slug=deployment_slug(root)) is None


def test_init_on_a_static_site_patches_index_html_only(
    agent_server: RunningServer, tmp_path: Path
) -> None:
    root = copy_app("static_site", tmp_path)
    result = cli("init", "--url", agent_server.url, "--dir", str(root))
    assert result.exit_code == 0, result.output
    key = config_of(root)["writeKey"]
    index = (root / "index.html").read_text()
    assert f'<script defer src="{agent_server.url}/script.js?key={key}"></script>\n</head>' in index
    assert "script.js" not in (root / "about.html").read_text()
    assert not (root / "requirements.txt").exists() and not (root / "pyproject.toml").exists()
    before = snapshot(root)
    assert "Nothing to change" in cli("init", "--dir", str(root)).output
    assert snapshot(root) == before


def test_init_on_an_mcp_server_instruments_it(agent_server: RunningServer, tmp_path: Path) -> None:
    root = copy_app("mcp_server", tmp_path)
    result = cli("init", "--url", agent_server.url, "--dir", str(root))
    assert result.exit_code == 0, result.output
    assert "MCP server" in result.output
    server = (root / "server.py").read_text()
    ast.parse(server)
    assert (
        "from mcp.server.fastmcp import FastMCP\nfrom agentlytics_sdk.mcp import instrument\n"
        in server
    )
    assert 'mcp = FastMCP("weather")\ninstrument(mcp)  # agentlytics:' in server
    pyproject = (root / "pyproject.toml").read_text()
    assert '    "httpx>=0.27",\n    "agentlytics-sdk",\n]' in pyproject
    agents = (root / "AGENTS.md").read_text()
    assert agents.startswith("# Agent notes\n") and SKILL_PATH in agents
    assert (root / SKILL_PATH).is_file()
    before = snapshot(root)
    assert "Nothing to change" in cli("init", "--dir", str(root)).output
    assert snapshot(root) == before


def test_init_with_a_write_key_uses_it(agent_server: RunningServer, tmp_path: Path) -> None:
    key = agent_server.new_project()["project_token"]
    root = copy_app("static_site", tmp_path)
    result = cli("init", key, "--url", agent_server.url, "--dir", str(root))
    assert result.exit_code == 0, result.output
    assert "Provisioned" not in result.output
    config = config_of(root)
    assert config["writeKey"] == key and config["claimUrl"] is None


def test_a_lost_config_gets_the_same_project_back(
    agent_server: RunningServer, tmp_path: Path
) -> None:
    root = copy_app("static_site", tmp_path)
    cli("init", "--url", agent_server.url, "--dir", str(root))
    first = config_of(root)
    (root / ".agentlytics.json").unlink()
    assert cli("init", "--url", agent_server.url, "--dir", str(root)).exit_code == 0
    assert config_of(root)["writeKey"] == first["writeKey"]


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    root = copy_app("static_site", tmp_path)
    result = cli("init", "--url", "http://127.0.0.1:9", "--dir", str(root))
    assert result.exit_code == 2
    assert "cannot reach http://127.0.0.1:9" in result.output
    assert not (root / ".agentlytics.json").exists()
