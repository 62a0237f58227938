"""Flush at exit, in a fresh interpreter, to the real server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.sdk_e2e.support import Reader


def _run(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AGENTLYTICS_")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_pending_events_are_delivered_when_the_process_exits(reader: Reader) -> None:
    # A long batching interval: without the exit hook nothing would be sent before exit.
    done = _run(
        f"""
        from agentlytics_sdk import Client
        client = Client({reader.write_key!r}, {reader.server.url!r}, flush_interval=60)
        for i in range(450):
            client.track("at_exit", f"user-{{i % 3}}", {{"i": i}})
        client.identify("anon-exit", "user-0")
        """
    )
    assert "not delivered" not in done.stderr
    # Exit waited for the server's acknowledgements, so the events are already stored.
    events = reader.events(event="at_exit")
    assert sorted(e["properties"]["i"] for e in events) == list(range(450))
    assert {e["user_id"] for e in events} == {"user-0", "user-1", "user-2"}


def test_the_module_helpers_read_the_environment_and_flush_at_exit(reader: Reader) -> None:
    _run(
        """
        import agentlytics_sdk
        agentlytics_sdk.track("from_env", "user-9", {"k": "v"}, user_email="nine@example.com")
        agentlytics_sdk.identify("anon-env", "user-9")
        """,
        AGENTLYTICS_WRITE_KEY=reader.write_key,
        AGENTLYTICS_URL=reader.server.url,
    )
    [event] = reader.events(event="from_env")
    assert (event["user_id"], event["properties"], event["user_email"]) == (
        "user-9",
        {"k": "v"},
        "nine@example.com",
    )
