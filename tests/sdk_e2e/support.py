"""What the end-to-end tests share: reading back through the HTTP API, and apps on loopback."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn
from starlette.types import ASGIApp

from tests.conftest import RunningServer, free_port

T = TypeVar("T")
WAIT_SECONDS = 30.0


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = WAIT_SECONDS) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Reader:
    """One project's data, read back through the public read API with the owner key."""

    server: RunningServer
    project: dict[str, Any]

    @property
    def write_key(self) -> str:
        return str(self.project["project_token"])

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        with self.server.client() as c:
            r = c.get(path, params={"project": self.project["name"], **params})
        assert r.status_code == 200, r.text
        return dict(r.json())

    def query(self, **spec: Any) -> list[dict[str, Any]]:
        """`POST /query` rows."""
        with self.server.client() as c:
            r = c.post("/query", json={"project": self.project["name"], **spec})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["truncated"] is False
        return list(body["rows"])

    def events(self, **params: Any) -> list[dict[str, Any]]:
        """`GET /events`, oldest first (the API answers newest first)."""
        body = self._get("/events", limit=1000, **params)
        assert body["truncated"] is False
        return list(reversed(body["events"]))

    def mcp_servers(self, **params: Any) -> dict[str, Any]:
        return self._get("/mcp-servers", **params)

    def count(self, *filters: dict[str, Any], **spec: Any) -> int:
        rows = self.query(metrics=["event_count"], filters=list(filters), **spec)
        return int(rows[0]["event_count"] or 0) if rows else 0

    def wait_for_events(self, n: int, **params: Any) -> list[dict[str, Any]]:
        """The project's events once there are at least `n` (for deliveries we cannot await)."""
        return wait_for(
            lambda: got if len(got := self.events(**params)) >= n else None,
            f"{n} events in {self.project['name']}",
        )

    def stored_mcp_calls(self) -> list[dict[str, Any]]:
        """The MCP columns no read endpoint returns (args, result), from the event store."""
        rows = self.server.services.events.query(
            "SELECT primitive_type, primitive_name, latency_ms, success, error, args, result, "
            "client, mcp_session_id, user_id FROM events WHERE project_id = ? AND name = ? "
            "ORDER BY timestamp, primitive_name",
            [self.project["id"], "$mcp_call"],
        ).dicts()
        return list(rows)


class _ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # not the main thread
        pass


@contextlib.contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Run `app` under uvicorn on a loopback port in a thread; yields its base URL."""
    port = free_port()
    server = _ThreadServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), "uvicorn to start", 20)
    assert thread.is_alive(), "uvicorn exited at start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
