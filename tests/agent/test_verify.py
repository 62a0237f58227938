"""``agentlytics verify``: plain words, and an exit code that says whether data arrived."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.agent.conftest import cli, copy_app
from tests.conftest import RunningServer
from tests.factories import CHROME_UA


def send(server: RunningServer, key: str, name: str, **fields: object) -> None:
    event = {
        "writeKey": key,
        "name": name,
        "userId": "u1",
        "sessionId": "s1",
        "timestamp": int(time.time() * 1000),
        **fields,
    }
    r = httpx.post(server.url + "/ingest", json=event, headers={"User-Agent": CHROME_UA})
    assert r.status_code == 200, r.text


def test_verify_fails_until_events_arrive_then_passes(
    agent_server: RunningServer, tmp_path: Path
) -> None:
    root = copy_app("fastapi_app", tmp_path)
    assert cli("init", "--url", agent_server.url, "--dir", str(root)).exit_code == 0
    config = json.loads((root / ".agentlytics.json").read_text())

    empty = cli("verify", "--dir", str(root))
    assert empty.exit_code == 1, empty.output
    assert "Nothing has arrived in the last 24 hours" in empty.output
    assert f"not claimed yet; claim it at {config['claimUrl']}" in empty.output

    send(agent_server, config["writeKey"], "user_signed_up", deploymentName="shop-prod")
    send(
        agent_server,
        config["writeKey"],
        "page_view",
        props={"path": "/pricing"},
        pageOrigin="http://localhost:8000",
    )
    ok = cli("verify", "--dir", str(root))
    assert ok.exit_code == 0, ok.output
    lines = ok.output.splitlines()
    assert (
        lines[1] == "Events: 1 in the last 5 minutes, 1 in the last hour, 1 in the last 24 hours."
    )
    assert lines[2] == (
        "Page views: 1 in the last 5 minutes, 1 in the last hour, 1 in the last 24 hours."
    )
    assert "Latest events: user_signed_up (production, " in ok.output
    assert "Latest page views: /pricing (development, " in ok.output
    assert "Environments seen: development, production." in ok.output
    assert lines[-1] == "OK: data is arriving (2 events in the last 24 hours)."

    as_json = cli("verify", "--dir", str(root), "--json")
    assert as_json.exit_code == 0
    body = json.loads(as_json.output)
    assert body["arriving"] is True and body["events"]["last24h"] == 1


def test_verify_takes_the_key_from_flags_or_the_environment(
    agent_server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = agent_server.new_project()
    key = project["project_token"]
    send(agent_server, key, "signup")
    result = cli("verify", "--url", agent_server.url, "--key", key, "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert f"Project {project['name']} on {agent_server.url} (claimed)." in result.output
    monkeypatch.setenv("AGENTLYTICS_WRITE_KEY", key)
    monkeypatch.setenv("AGENTLYTICS_URL", agent_server.url)
    assert cli("verify", "--dir", str(tmp_path)).exit_code == 0


def test_verify_errors_exit_2(agent_server: RunningServer, tmp_path: Path) -> None:
    nothing = cli("verify", "--url", agent_server.url, "--dir", str(tmp_path))
    assert nothing.exit_code == 2
    assert "no write key" in nothing.output
    wrong = cli("verify", "--url", agent_server.url, "--key", "aat_nope", "--dir", str(tmp_path))
    assert wrong.exit_code == 2
    assert "401" in wrong.output and "invalid_writeKey" in wrong.output
    down = cli("verify", "--url", "http://127.0.0.1:9", "--key", "aat_x", "--dir", str(tmp_path))
    assert down.exit_code == 2 and "cannot reach" in down.output
