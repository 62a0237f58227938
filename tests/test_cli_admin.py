"""Offline management of a data directory: keys, projects, accounts."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from agentlytics.cli import app
from agentlytics.projects import passwords
from agentlytics.settings import load_settings
from agentlytics.storage import registry

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.output


def test_keys_projects_and_owner_password(tmp_path: Path) -> None:
    d = ["--data-dir", str(tmp_path)]
    key = run("keys", "create", "--scope", "full", "--name", "ci", *d).strip().splitlines()[-1]
    assert key.startswith("aak_")
    listing = run("keys", "list", *d)
    assert "ci" in listing and key not in listing, "a key is shown once, never listed"
    assert "write key: aat_" in run("projects", "create", "shop", "--timezone", "Europe/Paris", *d)
    assert "shop" in run("projects", "list", *d)
    assert "exists" in run("projects", "create", "shop", *d)
    run("accounts", "password", "--password", "correct horse battery", *d)
    assert "set" in run("accounts", "list", *d)
    meta = registry.open_meta_store(load_settings({"data_dir": str(tmp_path)}, environ={}))
    try:
        [owner] = meta.list_accounts()
        assert passwords.verify_password(owner.password_hash, "correct horse battery")
        assert owner.password_hash and "correct" not in owner.password_hash
    finally:
        meta.close()
    key_id = run("keys", "list", *d).split("key_")[1].split()[0]
    assert "revoked" in run("keys", "revoke", "key_" + key_id, *d)


def test_bad_input_exits_with_a_message(tmp_path: Path) -> None:
    result = runner.invoke(app, ["keys", "create", "--scope", "admin", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "scope" in result.output
    result = runner.invoke(
        app, ["accounts", "password", "--password", "short", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 1 and "at least 8" in result.output
    result = runner.invoke(app, ["projects", "create", "bad name", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1


def test_keys_list_shows_whole_ids_in_an_80_column_terminal(tmp_path: Path) -> None:
    d = ["--data-dir", str(tmp_path)]
    run("keys", "create", "--name", "a rather long name for a key, to squeeze the table", *d)
    result = runner.invoke(app, ["keys", "list", *d], env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    meta = registry.open_meta_store(load_settings({"data_dir": str(tmp_path)}, environ={}))
    try:
        [owner] = meta.list_accounts()
        ids = [key.id for key in meta.list_api_keys(owner.id)]
    finally:
        meta.close()
    assert len(ids) == 2
    for key_id in ids:
        assert key_id in result.output, result.output
    assert "revoked" in run("keys", "revoke", ids[1], *d)
