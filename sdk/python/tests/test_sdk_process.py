"""Behaviour that needs a fresh interpreter: flush at exit and the env-configured default."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from sdk_loopback import LiveServer


def _run(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )


def test_events_are_flushed_when_the_process_exits(server: LiveServer) -> None:
    _run(
        f"""
        from agentlytics_sdk import Client
        client = Client("aat_exit", {server.url!r}, flush_interval=60)
        for i in range(3):
            client.track("at-exit", f"user-{{i}}")
        """
    )
    events = server.recorder.wait_for_events(3)
    assert [e["user_id"] for e in events] == ["user-0", "user-1", "user-2"]
    assert {e["token"] for e in events} == {"aat_exit"}


def test_module_helpers_use_the_environment(server: LiveServer) -> None:
    _run(
        """
        import agentlytics_sdk
        agentlytics_sdk.track("from-env", "user-1", {"k": "v"})
        agentlytics_sdk.identify("anon", "user-1")
        assert agentlytics_sdk.flush(timeout=10)
        agentlytics_sdk.shutdown()
        """,
        AGENTLYTICS_WRITE_KEY="aat_env",
        AGENTLYTICS_URL=server.url,
    )
    [event] = server.recorder.events()
    assert (event["token"], event["event"], event["properties"]) == (
        "aat_env",
        "from-env",
        {"k": "v"},
    )
    assert server.recorder.accepted("/identify")[0]["previous_id"] == "anon"


def test_module_helpers_without_a_write_key_warn_once_and_send_nothing(server: LiveServer) -> None:
    done = _run(
        """
        import logging
        import agentlytics_sdk
        logging.basicConfig(level=logging.WARNING)
        for _ in range(3):
            agentlytics_sdk.track("nothing", "user-1")
        assert agentlytics_sdk.flush(timeout=1)
        assert agentlytics_sdk.get_client().disabled
        """,
        AGENTLYTICS_URL=server.url,
    )
    assert done.stderr.count("no write key") == 1
    assert server.recorder.attempts == []


def test_a_forked_child_gets_its_own_consumer(server: LiveServer) -> None:
    _run(
        f"""
        import os
        from agentlytics_sdk import Client
        client = Client("aat_fork", {server.url!r})
        client.track("parent-before", "p")
        assert client.flush(timeout=10)
        pid = os.fork()
        if pid == 0:
            client.track("child", "c")
            os._exit(0 if client.flush(timeout=10) else 1)
        client.track("parent-after", "p")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        """
    )
    events = server.recorder.wait_for_events(3)
    assert sorted(e["event"] for e in events) == ["child", "parent-after", "parent-before"]
