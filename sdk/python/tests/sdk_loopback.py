"""A real HTTP server on loopback that records what the SDK sends and fails on request.

It stands in for the Agentlytics ingest API (`/track/batch`, `/identify`) until the real
server exists; the lead's end-to-end tests run the SDK against that one.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

WAIT_SECONDS = 10.0
REJECT_EVENT = "reject-me"
"""Events with this name come back in the 202 answer's `rejected` list."""


@dataclass
class Attempt:
    path: str
    status: int
    body: dict[str, Any]
    size: int
    at: float


@dataclass
class Recorder:
    """Everything the server received; scripted failures; a gate to hold requests."""

    attempts: list[Attempt] = field(default_factory=list)
    arrived: int = 0
    script: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    gate: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.gate.set()

    def fail_next(self, count: int, status: int, headers: dict[str, str] | None = None) -> None:
        """Answer the next `count` requests with `status` (and `headers`) instead of 202."""
        with self.changed:
            self.script.extend([(status, headers or {})] * count)

    def accepted(self, path: str = "/track/batch") -> list[dict[str, Any]]:
        with self.changed:
            return [a.body for a in self.attempts if a.path == path and a.status < 300]

    def events(self) -> list[dict[str, Any]]:
        return [e for body in self.accepted() for e in body["events"]]

    def wait_for(
        self, predicate: Callable[[Recorder], bool], timeout: float = WAIT_SECONDS
    ) -> bool:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(remaining)
        return True

    def wait_for_events(self, count: int, timeout: float = WAIT_SECONDS) -> list[dict[str, Any]]:
        assert self.wait_for(lambda r: len(r.events()) >= count, timeout), self.events()
        return self.events()

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        body = await request.json()
        with self.changed:
            self.arrived += 1
            self.changed.notify_all()
        # Held requests wait off the event loop, so other requests keep being served.
        await asyncio.to_thread(self.gate.wait, WAIT_SECONDS)
        with self.changed:
            status, headers = self.script.popleft() if self.script else (202, {})
            self.attempts.append(
                Attempt(request.url.path, status, body, len(raw), time.monotonic())
            )
            self.changed.notify_all()
        if status != 202:
            return JSONResponse({"error": "SCRIPTED", "message": "scripted"}, status, headers)
        if request.url.path == "/identify":
            return JSONResponse({"ok": True}, 202)
        events = body["events"]
        rejected = [
            {"index": i, "error": "INVALID", "message": "rejected by test"}
            for i, event in enumerate(events)
            if event["event"] == REJECT_EVENT
        ]
        answer: dict[str, object] = {
            "ok": True,
            "queued": True,
            "count": len(events) - len(rejected),
        }
        if rejected:
            answer["rejected"] = rejected
        return JSONResponse(answer, 202)


class _ThreadServer(uvicorn.Server):
    def __init__(self, app: ASGIApp) -> None:
        super().__init__(
            uvicorn.Config(app, log_level="warning", lifespan="on", ws="none", http="h11")
        )


@contextlib.contextmanager
def serve_in_thread(app: ASGIApp) -> Iterator[str]:
    """Run `app` with uvicorn on 127.0.0.1 and a free port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _ThreadServer(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_SECONDS
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "test server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(WAIT_SECONDS)
        sock.close()


def recording_app(current: Callable[[], Recorder]) -> Starlette:
    """The ingest routes the SDK uses, answered by whichever recorder is current."""

    async def endpoint(request: Request) -> Response:
        return await current().handle(request)

    return Starlette(
        routes=[
            Route("/track/batch", endpoint, methods=["POST"]),
            Route("/identify", endpoint, methods=["POST"]),
        ]
    )


@dataclass
class LiveServer:
    url: str
    recorder: Recorder


@dataclass
class Errors:
    """An `on_error` hook that keeps what it was given."""

    calls: list[tuple[BaseException, list[dict[str, Any]]]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, exc: BaseException, items: list[dict[str, Any]]) -> None:
        with self.changed:
            self.calls.append((exc, items))
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.calls) >= count, timeout), self.calls
