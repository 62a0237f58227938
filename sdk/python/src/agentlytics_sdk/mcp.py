"""Analytics for MCP servers built on the official `mcp` SDK: `instrument(server)`.

Records a `$mcp_session` event per client session and a `$mcp_call` event per tool call,
resource read and prompt get (see docs/dev/wire-format.md). The request path only pays for
a clock read and an enqueue: arguments and results are JSON-encoded on the consumer thread.

Seams, read from the SDK source rather than guessed:

- mcp >= 2 (`mcp.server.mcpserver.MCPServer` and the low-level `mcp.server.lowlevel.Server`):
  a context-tier middleware appended to `server.middleware`, i.e. innermost, around the
  handler. It sees every request with the raw method and params, and failures as raised
  `MCPError`s; a tool's own failure is a result with `isError`.
- mcp 1.x (`FastMCP` and the low-level `Server`): the low-level server's `request_handlers`
  entries for `CallToolRequest`, `ReadResourceRequest`, `GetPromptRequest` and
  `ListToolsRequest` are wrapped; the session comes from `server.request_context`.
  On a 1.x low-level `Server`, call `instrument()` after registering the handlers.

Sessions: a handshake-era connection (`initialize`, any 1.x connection) is one session.
The 2026-07-28 protocol has no handshake and no connection state, so there a session is one
(client name, client version, user) triple, renewed after 30 minutes without a request; that
is why `identify` runs on every request in that era and once per session otherwise. A
session is announced at its first list or call request.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import os
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from agentlytics_sdk.client import DEFAULT_URL, Client
from agentlytics_sdk.default import get_client
from agentlytics_sdk.encoding import JsonText

__all__ = ["instrument"]

log = logging.getLogger("agentlytics_sdk")

ServerT = TypeVar("ServerT")
Identify = Callable[[Any, Mapping[str, str]], Mapping[str, Any] | None]
"""`identify(request_context, env)` -> a dict with at least `userId`, or None."""

SESSION_IDLE_SECONDS = 30 * 60
_MAX_IDENTITY_SESSIONS = 10_000
_MARK = "_agentlytics_instrumented"
_CLIENT_INFO_META_KEY = "io.modelcontextprotocol/clientInfo"
_PRIMITIVES = {"tools/call": "tool", "resources/read": "resource", "prompts/get": "prompt"}
# A session is announced at its first listing or call, not at `initialize`: by then a
# low-level server has answered tools/list, so the announcement can name its tools.
_SESSION_METHODS = frozenset({"tools/list", "resources/list", "prompts/list"})
_PROTOCOL_KEYS = frozenset({"_meta", "resultType", "ttlMs", "cacheScope"})
"""Envelope keys of a result that say nothing about the call; left out of `result`."""
_V1_PRIMITIVES = {
    "CallToolRequest": "tool",
    "ReadResourceRequest": "resource",
    "GetPromptRequest": "prompt",
}


def instrument(
    server: ServerT,
    *,
    write_key: str | None = None,
    url: str | None = None,
    client: Client | None = None,
    identify: Identify | None = None,
    disable_input: bool = False,
    disable_output: bool = False,
) -> ServerT:
    """Record sessions and every tool/resource/prompt call of `server`; returns `server`.

    Events go to `client`, else to a new `Client(write_key, url)`, else to the default
    client configured by `AGENTLYTICS_WRITE_KEY` / `AGENTLYTICS_URL`. `identify(ctx, env)`
    receives the mcp SDK's request context and `os.environ` and returns the user's data
    (kept only if it has `userId`). `disable_input` / `disable_output` send `args` /
    `result` as empty strings. Instrumenting twice is a no-op; nothing here raises.
    """
    if getattr(server, _MARK, False):
        return server
    try:
        if client is None:
            client = get_client() if write_key is None else Client(write_key, url or _env_url())
        tracker = _Tracker(client, server, identify, disable_input, disable_output)
        middleware = getattr(server, "middleware", None)
        if isinstance(middleware, list):
            middleware.append(_Middleware(tracker))
        elif not _wrap_v1(server, tracker):
            log.warning("agentlytics: %r is not an mcp server; not instrumented", server)
            return server
        _flush_when_lifespan_ends(server, client)
        setattr(server, _MARK, True)
    except Exception:
        log.exception("agentlytics: could not instrument %r", server)
    return server


def _env_url() -> str:
    return os.environ.get("AGENTLYTICS_URL") or DEFAULT_URL


def _flush_when_lifespan_ends(server: object, client: Client) -> None:
    """Wrap the low-level server's lifespan so that its end flushes `client`.

    uvicorn (`run("streamable-http")`, or any app it serves) answers SIGTERM with a graceful
    shutdown and then raises the signal again, which ends the process before `atexit` hooks
    run: the lifespan's end is the last moment pending events can go. Elsewhere (stdio,
    in-memory clients) it is harmless: a flush with nothing pending returns at once.
    """
    lowlevel: Any = getattr(server, "_lowlevel_server", None) or getattr(
        server, "_mcp_server", server
    )
    original = getattr(lowlevel, "lifespan", None)
    if not callable(original):
        return

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        try:
            async with original(app) as state:
                yield state
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(client.flush, client.exit_timeout)

    lowlevel.lifespan = lifespan


@dataclass(slots=True)
class _Session:
    id: str
    client: str
    client_version: str | None
    user_id: str | None
    user_data: Mapping[str, Any] | None
    last_seen: float


class _Tracker:
    """What both SDK generations share: sessions, identify, and building the events."""

    def __init__(
        self,
        client: Client,
        server: object,
        identify: Identify | None,
        disable_input: bool,
        disable_output: bool,
    ) -> None:
        self.client = client
        self.server = server
        self.identify = identify
        self.disable_input = disable_input
        self.disable_output = disable_output
        self.by_connection: weakref.WeakKeyDictionary[object, _Session] = (
            weakref.WeakKeyDictionary()
        )
        self.by_identity: OrderedDict[tuple[str, str | None, str | None], _Session] = OrderedDict()
        self.known_tools: list[str] = []
        self.modern_versions = _modern_versions()

    def user_data(self, request_context: Any) -> Mapping[str, Any] | None:
        if self.identify is None:
            return None
        try:
            data = self.identify(request_context, os.environ)
        except Exception:
            log.exception("agentlytics: identify() raised; recording the call without a user")
            return None
        if data is None:
            return None
        if not isinstance(data, Mapping) or not data.get("userId"):
            log.warning("agentlytics: identify() must return a dict with 'userId'; got %r", data)
            return None
        return data

    async def session(
        self,
        request_context: Any,
        connection: object | None,
        client: tuple[str, str | None],
        protocol_version: str | None,
    ) -> _Session:
        """The session of this request, announcing it with `$mcp_session` the first time.

        `connection` is the per-connection object of a handshake-era connection, which is
        the session; None where each request stands alone (2026-07-28, stateless HTTP).
        """
        now = time.monotonic()
        if connection is not None:
            found = self.by_connection.get(connection)
            if found is not None:
                found.last_seen = now
                return found
            session = self._new(client, self.user_data(request_context), now)
            self.by_connection[connection] = session
        else:
            user_data = self.user_data(request_context)
            user_id = _user_id(user_data)
            key = (client[0], client[1], user_id)
            found = self.by_identity.get(key)
            if found is not None and now - found.last_seen <= SESSION_IDLE_SECONDS:
                found.last_seen = now
                self.by_identity.move_to_end(key)
                return found
            session = self._new(client, user_data, now)
            self.by_identity[key] = session
            self.by_identity.move_to_end(key)
            while len(self.by_identity) > _MAX_IDENTITY_SESSIONS:
                self.by_identity.popitem(last=False)
        # Stored before this await, so a concurrent request of the same session finds it.
        await self._announce(session, protocol_version)
        return session

    def _new(
        self, client: tuple[str, str | None], user_data: Mapping[str, Any] | None, now: float
    ) -> _Session:
        return _Session(
            str(uuid.uuid4()), client[0], client[1], _user_id(user_data), user_data, now
        )

    async def _announce(self, session: _Session, protocol_version: str | None) -> None:
        # `anonymous_id` = the session, on every event: without it the server would give a
        # user-less event a visitor id hashed from the MCP server's own address, making all of
        # a server's anonymous sessions one "user". The Agnost API maps sessions the same way.
        self.client.capture(
            {
                "event": "$mcp_session",
                "user_id": session.user_id,
                "anonymous_id": session.id,
                "session_id": session.id,
                "mcp_session_id": session.id,
                "client": session.client,
                "properties": {
                    "client_version": session.client_version,
                    "tools": await self._tools(),
                    "user_data": dict(session.user_data or {}),
                    "server": str(getattr(self.server, "name", "") or ""),
                    "protocol_version": protocol_version,
                },
            }
        )

    async def _tools(self) -> list[str]:
        # MCPServer / FastMCP list their tools without a request; a low-level server's list
        # is whatever its last tools/list answered.
        list_tools = getattr(self.server, "list_tools", None)
        if list_tools is not None and inspect.iscoroutinefunction(list_tools):
            try:
                self.known_tools = [str(t.name) for t in await list_tools()]
            except Exception:
                log.debug("agentlytics: list_tools() failed", exc_info=True)
        return list(self.known_tools)

    def observe_tools(self, result: Any) -> None:
        tools = _get(result, "tools")
        if isinstance(tools, list):
            self.known_tools = [str(_get(t, "name")) for t in tools]

    def call(
        self,
        session: _Session,
        primitive: str,
        name: str,
        args: object,
        started: float,
        result: object = None,
        exc: BaseException | None = None,
    ) -> None:
        """Record one call that ended with `result` or raised `exc`. Never raises."""
        latency_ms = (time.perf_counter() - started) * 1000.0
        try:
            error = _message(exc) if exc is not None else _tool_error(result)
            self.client.capture(
                {
                    "event": "$mcp_call",
                    "user_id": session.user_id,
                    "anonymous_id": session.id,
                    "session_id": session.id,
                    "mcp_session_id": session.id,
                    "primitive_type": primitive,
                    "primitive_name": name,
                    "latency_ms": latency_ms,
                    "success": error is None,
                    "error": error,
                    "args": "" if self.disable_input else JsonText(args),
                    "result": (
                        ""
                        if self.disable_output or error is not None
                        else JsonText(result, drop=_PROTOCOL_KEYS)
                    ),
                    "client": session.client,
                    "properties": {},
                }
            )
        except Exception:
            log.exception("agentlytics: call tracking failed")


class _Middleware:
    """mcp >= 2: `(ctx, call_next)` middleware on the low-level server."""

    def __init__(self, tracker: _Tracker) -> None:
        self.tracker = tracker

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        method = ctx.method
        primitive = _PRIMITIVES.get(method)
        if primitive is None:
            if method not in _SESSION_METHODS:
                return await call_next(ctx)
            result = await call_next(ctx)
            try:
                if method == "tools/list":
                    self.tracker.observe_tools(result)
                await self._session(ctx)
            except Exception:
                log.exception("agentlytics: session tracking failed")
            return result
        try:
            session = await self._session(ctx)
            params = ctx.params if isinstance(ctx.params, Mapping) else {}
            args: object
            if primitive == "resource":
                name, args = str(params.get("uri", "")), {"uri": params.get("uri")}
            else:
                name, args = str(params.get("name", "")), params.get("arguments")
        except Exception:
            log.exception("agentlytics: call tracking failed")
            return await call_next(ctx)
        started = time.perf_counter()
        try:
            result = await call_next(ctx)
        except BaseException as exc:
            self.tracker.call(session, primitive, name, args, started, exc=exc)
            raise
        if _get(result, "resultType") != "input_required":  # an interim round, not the call
            self.tracker.call(session, primitive, name, args, started, result=result)
        return result

    async def _session(self, ctx: Any) -> _Session:
        version = getattr(ctx, "protocol_version", None)
        # The per-connection object outlives the request only after a handshake: not in the
        # 2026-07-28 era, nor on stateless HTTP, where each request gets a fresh one.
        handshake = (
            version not in self.tracker.modern_versions
            and getattr(ctx.session, "client_params", None) is not None
        )
        connection = getattr(ctx.session, "_connection", None) if handshake else None
        return await self.tracker.session(ctx, connection, _client_v2(ctx), version)


def _wrap_v1(server: object, tracker: _Tracker) -> bool:
    """mcp 1.x: wrap the low-level server's request handlers. False if there are none."""
    lowlevel = getattr(server, "_mcp_server", server)
    handlers = getattr(lowlevel, "request_handlers", None)
    if not isinstance(handlers, dict):
        return False
    for request_type, handler in list(handlers.items()):
        type_name = getattr(request_type, "__name__", "")
        if type_name in _V1_PRIMITIVES:
            handlers[request_type] = _v1_call(lowlevel, tracker, _V1_PRIMITIVES[type_name], handler)
        elif type_name == "ListToolsRequest":
            handlers[request_type] = _v1_list_tools(lowlevel, tracker, handler)
    return True


def _v1_call(
    lowlevel: Any, tracker: _Tracker, primitive: str, handler: Callable[[Any], Awaitable[Any]]
) -> Callable[[Any], Awaitable[Any]]:
    async def wrapped(request: Any) -> Any:
        try:
            session = await _v1_session(lowlevel, tracker)
            params = request.params
            if primitive == "resource":
                name, args = str(params.uri), {"uri": str(params.uri)}
            else:
                name, args = str(params.name), params.arguments
        except Exception:
            log.exception("agentlytics: call tracking failed")
            return await handler(request)
        started = time.perf_counter()
        try:
            result = await handler(request)
        except BaseException as exc:
            tracker.call(session, primitive, name, args, started, exc=exc)
            raise
        tracker.call(session, primitive, name, args, started, result=result)
        return result

    return wrapped


def _v1_list_tools(
    lowlevel: Any, tracker: _Tracker, handler: Callable[[Any], Awaitable[Any]]
) -> Callable[[Any], Awaitable[Any]]:
    async def wrapped(request: Any) -> Any:
        result = await handler(request)
        try:
            tracker.observe_tools(_get(result, "root") or result)
            await _v1_session(lowlevel, tracker)
        except Exception:
            log.exception("agentlytics: session tracking failed")
        return result

    return wrapped


async def _v1_session(lowlevel: Any, tracker: _Tracker) -> _Session:
    ctx = lowlevel.request_context
    params = getattr(ctx.session, "client_params", None)
    info = getattr(params, "clientInfo", None)
    client = (str(getattr(info, "name", None) or "unknown"), getattr(info, "version", None))
    # Stateless HTTP builds a session object per request, without the handshake's params.
    connection = ctx.session if params is not None else None
    return await tracker.session(ctx, connection, client, getattr(params, "protocolVersion", None))


def _client_v2(ctx: Any) -> tuple[str, str | None]:
    """Client name and version: the connection's (handshake), else the request's envelope."""
    info: Any = getattr(getattr(ctx.session, "client_params", None), "client_info", None)
    if info is None:
        params = ctx.params if isinstance(ctx.params, Mapping) else {}
        meta = params.get("_meta")
        info = meta.get(_CLIENT_INFO_META_KEY) if isinstance(meta, Mapping) else None
    name = _get(info, "name")
    version = _get(info, "version")
    return (str(name) if name else "unknown", str(version) if version else None)


def _tool_error(result: Any) -> str | None:
    """A tool result flagged `isError` is a failed call; its text content is the message."""
    root = _get(result, "root") or result
    if not (_get(root, "isError") or _get(root, "is_error")):
        return None
    texts = [_get(c, "text") for c in _get(root, "content") or []]
    return "\n".join(t for t in texts if isinstance(t, str)) or "tool returned an error"


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _get(obj: Any, key: str) -> Any:
    """`obj[key]` for the wire dicts of mcp 2, `obj.key` for the pydantic models of mcp 1."""
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _user_id(user_data: Mapping[str, Any] | None) -> str | None:
    return str(user_data["userId"]) if user_data and user_data.get("userId") else None


def _modern_versions() -> frozenset[str]:
    """Protocol versions without a handshake (2026-07-28 and later), per the installed SDK."""
    try:
        versions = importlib.import_module("mcp_types.version").MODERN_PROTOCOL_VERSIONS
    except (ImportError, AttributeError):
        return frozenset()
    return frozenset(str(v) for v in versions)
