"""Fixtures for the agent commands: fixture apps in temp dirs, a server, the CLI in-process."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentlytics.cli import app
from tests.conftest import RunningServer, start_server

APPS = Path(__file__).resolve().parents[1] / "fixtures" / "apps"


@pytest.fixture(scope="module")
def agent_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running, stop = start_server(
        tmp_path_factory.mktemp("agent"), provision_rate_global=0, provision_rate_per_ip=0
    )
    yield running
    stop()


def copy_app(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(APPS / name, target)
    return target


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def snapshot(root: Path) -> dict[str, str]:
    """Every file's text, by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
