"""docs/mcp.md documents every tool the server lists, and its raw-HTTP example works."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningServer
from tests.mcp.conftest import connect, raw_post

pytestmark = pytest.mark.anyio

DOC = Path(__file__).resolve().parents[2] / "docs" / "mcp.md"


async def test_every_tool_is_in_the_docs_table(server: RunningServer) -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOC.read_text(), re.M))
    async with connect(server.url, None) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
    assert listed == documented


def test_the_curl_example_answers(server: RunningServer, project: dict[str, Any]) -> None:
    example = re.search(r"-d '(\{.*\})'", DOC.read_text())
    assert example is not None
    body = json.loads(example.group(1).replace("my-site", project["name"]))
    r = raw_post(server.url, body, server.owner_key)
    assert r.status_code == 200, r.text
    digest = json.loads(r.json()["result"]["content"][0]["text"])
    assert digest["project"] == project["name"] and digest["days"] == 7
