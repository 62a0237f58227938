"""The README's examples: every Python block compiles, and the runnable ones run."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sdk_loopback import LiveServer

README = Path(__file__).parents[1] / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def _run(script: str, server: LiveServer) -> None:
    env = {**os.environ, "AGENTLYTICS_WRITE_KEY": "aat_readme", "AGENTLYTICS_URL": server.url}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)


def test_every_python_block_compiles() -> None:
    blocks = _blocks()
    assert len(blocks) >= 4
    for i, block in enumerate(blocks):
        compile(block, f"README.md block {i}", "exec")


def test_the_quick_start_runs(server: LiveServer) -> None:
    [quick_start] = [b for b in _blocks() if b.startswith("import agentlytics_sdk")]
    _run(quick_start, server)
    [event] = server.recorder.events()
    assert (event["event"], event["user_id"]) == ("signup", "user-42")
    assert len(server.recorder.accepted("/identify")) == 1


@pytest.mark.skipif(
    importlib.metadata.version("mcp").startswith("1."), reason="the example uses mcp 2's MCPServer"
)
def test_the_mcp_example_records_a_call(server: LiveServer) -> None:
    [example] = [b for b in _blocks() if "instrument(server" in b]
    driver = textwrap.dedent(
        """
        import anyio
        from mcp import Client

        async def main():
            async with Client(server) as client:
                await client.call_tool("forecast", {"city": "Oslo"})

        anyio.run(main)
        """
    )
    _run(example + driver, server)
    calls = [e for e in server.recorder.wait_for_events(2) if e["event"] == "$mcp_call"]
    assert [(c["primitive_name"], c["success"]) for c in calls] == [("forecast", True)]
    assert calls[0]["user_id"]
