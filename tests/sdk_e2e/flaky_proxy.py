"""A small real ASGI app that stands in for a failing network in front of the real server.

It answers each request by the next step of its script, then forwards everything:

- ``"429"``: answer 429 with ``Retry-After: 1`` (the server's rate-limit body), forward nothing;
- ``"503"``: answer 503 without ``Retry-After``, forward nothing;
- ``"forward+503"``: forward to the server (which stores the batch), then answer 503 anyway,
  as when an answer is lost on the way back: the client must retry a batch already stored.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Step = Literal["429", "503", "forward+503"]


@dataclass
class Seen:
    """One request the proxy received and what became of it."""

    path: str
    step: Step | Literal["forward"]
    #: the idempotency ids of the events in the body (none for /identify)
    ids: list[str]
    #: the server's status when the request was forwarded, else None
    upstream: int | None = None


@dataclass
class FlakyProxy:
    upstream: str
    script: deque[Step] = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])

    def forwarded_ids(self) -> list[str]:
        """Ids of every event the server received, repeats included, in order."""
        return [i for s in self.seen if s.upstream is not None for i in s.ids]

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            step = self.script.popleft() if self.script else "forward"
            seen = Seen(request.url.path, step, _event_ids(body))
            self.seen.append(seen)
        if step == "429":
            return JSONResponse(
                {"error": "RATE_LIMITED", "reason": "rate_limit", "retry_after": 1},
                429,
                headers={"Retry-After": "1"},
            )
        if step == "503":
            return JSONResponse({"error": "UNAVAILABLE"}, 503)
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.post(
                self.upstream + request.url.path,
                content=body,
                headers={"Content-Type": request.headers.get("content-type", "")},
            )
        seen.upstream = answer.status_code
        if step == "forward+503":
            return JSONResponse({"error": "UNAVAILABLE"}, 503)
        return Response(
            answer.content, answer.status_code, media_type=answer.headers.get("content-type")
        )


def _event_ids(body: bytes) -> list[str]:
    try:
        events = json.loads(body).get("events") or []
    except (ValueError, AttributeError):
        return []
    return [str(e.get("id")) for e in events if isinstance(e, dict)]
