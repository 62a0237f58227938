"""The text patches ``init`` applies: each idempotent, each leaving the file valid."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from agentlytics.agent.detect import detect
from agentlytics.agent.files import read_env, with_env, with_line
from agentlytics.agent.patches import (
    add_mcp_instrument,
    add_pyproject_dependency,
    add_requirement,
    add_script_tag,
)

URL, KEY = "https://a.example", "aat_k"
TAG = '<script defer src="https://a.example/script.js?key=aat_k"></script>'


def test_the_script_tag_goes_before_head_once() -> None:
    html = "<html>\n  <head>\n    <title>x</title>\n  </head>\n<body></body></html>\n"
    once = add_script_tag(html, URL, KEY)
    assert (
        once
        == f"<html>\n  <head>\n    <title>x</title>\n    {TAG}\n  </head>\n<body></body></html>\n"
    )
    assert add_script_tag(once, URL, KEY) == once
    inline = add_script_tag("<head><title>x</title></HEAD>", URL, KEY)
    assert inline == f"<head><title>x</title>{TAG}</HEAD>"
    assert add_script_tag("<p>no head</p>", URL, KEY) == "<p>no head</p>"


def test_a_new_key_updates_the_existing_tag() -> None:
    once = add_script_tag("<head>\n</head>\n", URL, KEY)
    moved = add_script_tag(once, "http://localhost:8720", "aat_new")
    assert moved.count("<script") == 1
    assert 'src="http://localhost:8720/script.js?key=aat_new"' in moved


def test_requirements_get_the_sdk_once() -> None:
    assert add_requirement("fastapi") == "fastapi\nagentlytics-sdk\n"
    assert add_requirement("") == "agentlytics-sdk\n"
    pinned = "agentlytics_sdk==0.1\n"
    assert add_requirement(pinned) == pinned


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[project]\nname = "x"\ndependencies = [\n  "a",\n  "b"\n]\n',
            ["a", "b", "agentlytics-sdk"],
        ),
        ('[project]\nname = "x"\ndependencies = ["a", "b"]\n', ["a", "b", "agentlytics-sdk"]),
        ('[project]\nname = "x"\ndependencies = []\n', ["agentlytics-sdk"]),
        ('[project]\nname = "x"\ndependencies = ["a",]\n', ["a", "agentlytics-sdk"]),
        ('[project]\nname = "x"\n\n[tool.x]\ny = 1\n', ["agentlytics-sdk"]),
    ],
)
def test_pyproject_dependencies_get_the_sdk(text: str, expected: list[str]) -> None:
    patched = add_pyproject_dependency(text)
    assert patched is not None
    assert tomllib.loads(patched)["project"]["dependencies"] == expected
    assert add_pyproject_dependency(patched) == patched


def test_poetry_and_unknown_pyprojects() -> None:
    poetry = '[tool.poetry]\nname = "x"\n\n[tool.poetry.dependencies]\npython = "^3.11"\n'
    patched = add_pyproject_dependency(poetry)
    assert patched is not None
    assert tomllib.loads(patched)["tool"]["poetry"]["dependencies"]["agentlytics-sdk"] == "*"
    assert add_pyproject_dependency(patched) == patched
    assert add_pyproject_dependency("[tool.black]\nline-length = 100\n") is None


def test_mcp_instrumentation_after_the_server_and_inside_factories(tmp_path: Path) -> None:
    source = (
        '"""Server."""\n\nimport os\n\nfrom mcp.server.mcpserver import MCPServer as S\n\n\n'
        "def build():\n    server = S(\n        'x',\n    )\n    return server\n"
    )
    (tmp_path / "srv.py").write_text(source)
    [server] = detect(tmp_path).mcp_servers
    assert (server.variable, server.kind, server.line, server.col) == ("server", "MCPServer", 11, 4)
    patched = add_mcp_instrument(source, server.variable, server.line, server.col)
    ast.parse(patched)
    assert "MCPServer as S\nfrom agentlytics_sdk.mcp import instrument\n" in patched
    assert "    )\n    instrument(server)  # agentlytics:" in patched
    assert add_mcp_instrument(patched, server.variable, server.line, server.col) == patched


def test_a_low_level_server_gets_a_hint_not_a_patch(tmp_path: Path) -> None:
    (tmp_path / "low.py").write_text(
        "from mcp.server.lowlevel import Server\n\napp = Server('x')\n"
    )
    [server] = detect(tmp_path).mcp_servers
    assert server.kind == "Server"


def test_env_and_gitignore_lines() -> None:
    env = with_env("A=1\nexport AGENTLYTICS_URL=old\n", {"AGENTLYTICS_URL": "new", "B": "2"})
    assert env == "A=1\nAGENTLYTICS_URL=new\nB=2\n"
    assert with_env(env, {"AGENTLYTICS_URL": "new", "B": "2"}) == env
    assert read_env('X="quoted"\n# c\nexport Y=1\n') == {"X": "quoted", "Y": "1"}
    assert with_line("a", ".agentlytics.json") == "a\n.agentlytics.json\n"
    assert with_line("a\n.agentlytics.json\n", ".agentlytics.json") == "a\n.agentlytics.json\n"
