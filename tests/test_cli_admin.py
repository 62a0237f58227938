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


def test_projects_list_shows_whole_ids_and_write_keys_in_an_80_column_terminal(
    tmp_path: Path,
) -> None:
    """The id and write key (24 and 36 characters) leave no room for a table's other columns
    in 80: each project is then a record of lines; at 200 columns, still a table."""
    d = ["--data-dir", str(tmp_path)]
    run("projects", "create", "shop", *d)
    run("projects", "create", "blog", *d)
    meta = registry.open_meta_store(load_settings({"data_dir": str(tmp_path)}, environ={}))
    try:
        [owner] = meta.list_accounts()
        projects = meta.list_projects(owner.id)
    finally:
        meta.close()
    assert len(projects) == 2
    narrow = runner.invoke(app, ["projects", "list", *d], env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert narrow.exit_code == 0, narrow.output
    assert max(len(line) for line in narrow.output.splitlines()) <= 80
    for p in projects:
        assert f"id         {p.id}" in narrow.output, narrow.output
        assert f"write key  {p.write_key}" in narrow.output, narrow.output
        assert f"name       {p.name}" in narrow.output, narrow.output
    wide = run("projects", "list", *d)  # 200 columns
    header = next(line for line in wide.splitlines() if " id " in line)
    assert all(h in header for h in ("name", "write key", "origins", "timezone")), wide
    for p in projects:
        [line] = [line for line in wide.splitlines() if p.id in line]
        assert p.write_key in line and p.name in line, wide
