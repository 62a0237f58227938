"""The mcp 1.x surface that agnost-mcp patches, over an mcp 2 `MCPServer`.

agnost-mcp 0.2.0 (PyPI, by Agnost AI) instruments a FastMCP server of mcp 1.x: it replaces
`_mcp_server.request_handlers[CallToolRequest]` with a wrapper that times the call, and reads
the client and session from `_mcp_server.request_context` and `get_client_version()`. mcp 2
has none of these (its low-level server keeps `_request_handlers` by method name and runs a
middleware list), so `agnost_mcp.track(MCPServer(...))` logs "Failed to patch" and records
nothing.

`FastMCPFacade` offers exactly those attributes over an mcp 2 server: a middleware sends each
`tools/call` through whatever handler sits in `request_handlers[CallToolRequest]` (agnost's
wrapper, once `track()` ran), whose inner handler continues the mcp 2 chain. Everything else
(timing, error detection, argument and result encoding, sessions, `identify`, the background
delivery to `/api/v1/capture-session` and `/api/v1/capture-event`) is agnost-mcp's own code.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Mapping
from types import SimpleNamespace
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolRequest, CallToolRequestParams

Handler = Callable[[CallToolRequest], Awaitable[Any]]
CallNext = Callable[[Any], Awaitable[Any]]


class FastMCPFacade:
    """Looks like an mcp 1 `FastMCP` to agnost-mcp; pass it to `agnost_mcp.track()`."""

    def __init__(self, server: MCPServer, *, stateless_http: bool = False) -> None:
        self._mcp_server = self  # FastMCP's low-level server: here, this object
        self._tool_manager = server._tool_manager
        self.settings = SimpleNamespace(stateless_http=stateless_http)
        self.request_handlers: dict[type, Handler] = {CallToolRequest: self._continue}
        self._current: contextvars.ContextVar[tuple[Any, CallNext]] = contextvars.ContextVar(
            "agnost_facade_request"
        )
        server.middleware.append(self._middleware)

    @property
    def request_context(self) -> Any:
        """mcp 1's request context: the connection (`session`) and the HTTP `request`."""
        ctx, _ = self._current.get()
        return SimpleNamespace(session=ctx.session, request=ctx.request)

    def get_client_version(self) -> Any:
        ctx, _ = self._current.get()
        return getattr(getattr(ctx.session, "client_params", None), "client_info", None)

    async def _middleware(self, ctx: Any, call_next: CallNext) -> Any:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        token = self._current.set((ctx, call_next))
        try:
            params = CallToolRequestParams.model_validate(ctx.params)
            handler = self.request_handlers[CallToolRequest]
            result = await handler(CallToolRequest(params=params))
            return result.wire
        finally:
            self._current.reset(token)

    async def _continue(self, request: CallToolRequest) -> _ServerResult:
        ctx, call_next = self._current.get()
        return _ServerResult(await call_next(ctx))


class _ServerResult:
    """mcp 1's `ServerResult(CallToolResult)` shape (`.root.isError`, `.root.content[i].text`)
    over the wire dict an mcp 2 handler returns."""

    def __init__(self, wire: Mapping[str, Any]) -> None:
        self.wire = wire
        self.root = SimpleNamespace(
            isError=bool(wire.get("isError")),
            content=[SimpleNamespace(**c) for c in wire.get("content") or []],
            structuredContent=wire.get("structuredContent"),
        )
