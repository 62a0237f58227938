"""Plain ASGI middleware: a request body limit, CORS for the ingest routes, and the ingest
routes' fast path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentlytics.api.table import Handler

#: where the fast path leaves the body it read (``read_json`` takes it from there)
BODY_KEY = "agentlytics.body"

#: the hot ingest routes whose POSTs skip the router (``IngestFastPath``)
FAST_PATHS = frozenset({"/track", "/track/batch", "/ingest", "/ingest/batch"})

#: routes browsers post events to from other origins
INGEST_PATHS = frozenset(
    {"/track", "/track/batch", "/identify", "/ingest", "/ingest/batch", "/experiments/config"}
)


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413 before reading them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declares_too_much(scope, self.max_bytes):
            await self._reject(send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        await send_too_large(send, self.max_bytes)


def declares_too_much(scope: Scope, max_bytes: int) -> bool:
    """Whether the request's Content-Length says its body is over ``max_bytes``."""
    return any(
        name == b"content-length" and value.isdigit() and int(value) > max_bytes
        for name, value in scope["headers"]
    )


async def send_too_large(send: Send, max_bytes: int) -> None:
    """The 413 answer to a body over ``max_bytes``."""
    body = msgspec.json.encode(
        {
            "error": "PAYLOAD_TOO_LARGE",
            "message": f"request body is larger than {max_bytes} bytes; "
            "send fewer events per request",
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def cors_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The CORS headers of an ingest route's answer: the request's Origin reflected."""
    origin = next((v for k, v in scope["headers"] if k == b"origin"), None)
    cors = [
        (b"access-control-allow-origin", origin or b"*"),
        (b"vary", b"Origin"),
    ]
    if origin:
        cors.append((b"access-control-allow-credentials", b"true"))
    return cors


class IngestCorsMiddleware:
    """Ingest routes take events from any page: the request's Origin is reflected.

    Whether a project accepts that origin is the project's ``allowed_origins`` rule, checked
    by the handler once it knows the project.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in INGEST_PATHS:
            await self.app(scope, receive, send)
            return
        cors = cors_headers(scope)
        if scope["method"] == "OPTIONS":
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        *cors,
                        (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                        (b"access-control-allow-headers", b"Content-Type, X-Org-Id"),
                        (b"access-control-max-age", b"86400"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *cors]}
            await send(message)

        await self.app(scope, receive, send_with_cors)


ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


class IngestFastPath:
    """``POST`` to the hot ingest routes, straight to their handlers.

    Only the router and the layers between differ: the body limit and the CORS headers are
    the two middlewares' own (``send_too_large``, ``cors_headers``), the handler is the
    route's, and an exception gets the app's handler for it (``api/errors.py``), so every
    answer is the one the full stack gives. Other methods and paths go down the stack.
    """

    def __init__(
        self,
        app: ASGIApp,
        routes: Mapping[str, Handler],
        handlers: Mapping[type[Exception], ErrorHandler],
        max_bytes: int,
    ) -> None:
        self.app = app
        self.routes = dict(routes)
        self.handlers = dict(handlers)
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if declares_too_much(scope, self.max_bytes):
            await send_too_large(send, self.max_bytes)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await send_too_large(send, self.max_bytes)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = scope[BODY_KEY] = chunks[0] if len(chunks) == 1 else b"".join(chunks)

        async def replay() -> Message:  # for a handler that reads the body as a stream
            return {"type": "http.request", "body": body, "more_body": False}

        request = Request(scope, replay)
        try:
            response = await endpoint(request)
        except Exception as exc:
            response = await self._handler(exc)(request, exc)
        response.raw_headers.extend(cors_headers(scope))
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> ErrorHandler:
        for cls in type(exc).__mro__:
            handler = self.handlers.get(cls)
            if handler is not None:
                return handler
        raise exc  # pragma: no cover - the app maps Exception itself
