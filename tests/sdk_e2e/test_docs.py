"""docs/sdk.md and docs/mcp-analytics.md: every Python example compiles, and every one not marked
`<!-- compile only -->` runs against the real server and leaves the data it promises."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from agentlytics.model.event import MCP_CALL
from tests.sdk_e2e.support import Reader

DOCS = Path(__file__).parents[2] / "docs"
PAGES = ("sdk.md", "mcp-analytics.md")
_BLOCK = re.compile(r"(<!-- compile only -->\n)?```python\n(.*?)```", re.DOTALL)


def blocks(page: str) -> list[tuple[str, bool]]:
    """(code, runnable) for each Python block of a page."""
    text = (DOCS / page).read_text()
    return [(code, not marker) for marker, code in _BLOCK.findall(text)]


def run(code: str, reader: Reader) -> None:
    code = code.replace("aat_your_write_key", reader.write_key)
    code = code.replace("http://127.0.0.1:8720", reader.server.url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTLYTICS_")}
    env |= {
        "AGENTLYTICS_WRITE_KEY": reader.write_key,
        "AGENTLYTICS_URL": reader.server.url,
        "USER": "doc-user",
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "not delivered" not in done.stderr, done.stderr


def quick_start(reader: Reader) -> None:
    signup, exported = reader.events()
    assert (signup["event"], signup["user_email"]) == ("signup", "ann@example.com")
    assert (exported["event"], exported["resolved_user_id"]) == ("report_exported", "user-42")


def client_example(reader: Reader) -> None:
    [paid] = reader.events()
    assert (paid["event"], paid["user_name"], paid["session_id"]) == (
        "invoice_paid",
        "Ann",
        "checkout-9f2",
    )
    assert paid["properties"] == {"amount": 49.0, "currency": "EUR"}


def on_error_example(reader: Reader) -> None:
    assert [e["event"] for e in reader.events()] == ["signup"]


def asyncio_example(reader: Reader) -> None:
    assert sorted(e["user_id"] for e in reader.events(event="signup")) == [
        "user-0",
        "user-1",
        "user-2",
    ]


def experiment_example(reader: Reader) -> None:
    exposure, started = reader.events()
    assert (exposure["event"], exposure["properties"]["experiment"]) == (
        "$experiment_exposure",
        "pricing_page",
    )
    assert (started["event"], started["user_id"]) == ("checkout_started", "user-42")


MCP_DRIVER = """
import anyio
from mcp import Client as _McpClient


async def _drive():
    async with _McpClient(server) as client:
        await client.call_tool("forecast", {"city": "Oslo"})
        await client.call_tool("forecast", {"city": "Atlantis"})
        await client.read_resource("weather://stations")


anyio.run(_drive)
"""


def mcp_example(reader: Reader) -> None:
    totals = reader.mcp_servers()["totals"]
    assert (totals["sessions"], totals["users"], totals["calls"], totals["errors"]) == (1, 1, 3, 1)
    rows = reader.query(
        metrics=["call_count", "error_count"],
        group_by=["tool", "user_id"],
        filters=[{"field": "event", "op": "eq", "value": MCP_CALL}],
    )
    assert {(r["tool"], r["user_id"], r["call_count"], r["error_count"]) for r in rows} == {
        ("forecast", "doc-user", 2, 1),
        ("weather://stations", "doc-user", 1, 0),
    }


# (page, first line of the block) -> check; an example not listed here fails the test
CHECKS: dict[tuple[str, str], Callable[[Reader], None]] = {
    ("sdk.md", "import agentlytics_sdk"): quick_start,
    ("sdk.md", "from agentlytics_sdk import Client"): client_example,
    ("sdk.md", "import logging"): on_error_example,
    ("sdk.md", "import asyncio"): asyncio_example,
    ("sdk.md", "from agentlytics_sdk import Client, assign_variant"): experiment_example,
    ("mcp-analytics.md", "from mcp.server.mcpserver import MCPServer"): mcp_example,
}


def runnable() -> list[tuple[str, str]]:
    return [(page, code) for page in PAGES for code, run_it in blocks(page) if run_it]


@pytest.mark.parametrize("page", PAGES)
def test_every_python_example_compiles(page: str) -> None:
    found = blocks(page)
    assert found
    for i, (code, _) in enumerate(found):
        compile(code, f"{page} block {i}", "exec")


@pytest.mark.parametrize(
    ("page", "code"), runnable(), ids=[f"{p}:{c.splitlines()[0]}" for p, c in runnable()]
)
def test_the_examples_run_against_the_server(page: str, code: str, reader: Reader) -> None:
    check = CHECKS[(page, code.splitlines()[0])]
    if check is mcp_example:
        code = code.replace('if __name__ == "__main__":', "if False:") + textwrap.dedent(MCP_DRIVER)
    run(code, reader)
    check(reader)


def test_the_readme_links_both_pages() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    assert "(docs/sdk.md)" in readme and "(docs/mcp-analytics.md)" in readme
    for page in PAGES:
        for target in re.findall(r"\]\(([\w\-./]+\.md)", (DOCS / page).read_text()):
            assert (DOCS / target).exists(), f"{page} links to a missing {target}"
