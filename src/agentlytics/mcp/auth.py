"""Who an MCP tool call acts for, and whether it may run now.

``initialize``, ``tools/list``, ``ping`` and the other discovery methods need no key. A
``tools/call`` needs a secret API key, sent as ``Authorization: Bearer aak_…``, as a bare
``Authorization: aak_…`` (what the Smithery gateway sends) or as ``X-API-Key``. Calls are
charged to the key's account: ``mcp_rate_limit`` per minute.

Over HTTP, :class:`McpGate` checks both in front of the SDK's transport, so a refusal is
plain HTTP: JSON-RPC error ``-32001`` for a missing or bad key (Convalytics' code), and
status 429 with ``Retry-After`` over the rate limit. It hands the caller to the tool through
the ASGI scope. Over stdio there is no request: :class:`ToolCallAuth`, the server
middleware, admits the key ``agentlytics mcp`` was started with (or the owner).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentlytics.app import Services
from agentlytics.errors import AuthError, RateLimited
from agentlytics.limits import charge
from agentlytics.model.project import ApiKey
from agentlytics.projects.service import Principal
from agentlytics.query.engine import only_environment

AUTH_ERROR = -32001
INVALID_PARAMS = -32602
RATE_LIMIT_ERROR = -32029
#: where the gate leaves the admitted caller in the ASGI scope's ``state``
PRINCIPAL_KEY = "agentlytics.mcp.principal"

_caller: ContextVar[Principal | None] = ContextVar("agentlytics_mcp_caller", default=None)


def current_principal() -> Principal:
    """The caller of the tool being run.

    Raises:
        AuthError: outside an admitted tool call.
    """
    principal = _caller.get()
    if principal is None:
        raise AuthError("this tool call carries no API key", code="AUTH_REQUIRED")
    return principal


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    auth = (headers.get("authorization") or "").strip()
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    if auth:
        return auth
    return (headers.get("x-api-key") or "").strip() or None


def local_principal(services: Services) -> Principal:
    """The owner with full scope: for ``agentlytics mcp --data-dir`` started without a key,
    by someone who can read the data directory anyway.

    Raises:
        AuthError: the data directory has no owner account.
    """
    owner = services.projects.owner()
    if owner is None:
        raise AuthError("this data directory has no owner account", code="AUTH_REQUIRED")
    key = ApiKey(
        id="local",
        account_id=owner.id,
        name="agentlytics mcp (local)",
        scope="full",
        prefix="",
        key_hash="",
        created_at=0,
    )
    return Principal(account=owner, key=key)


class Admission:
    """Authenticate a key and charge one call to its account."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def admit(self, raw_key: str | None) -> Principal:
        """Raises:
        AuthError: no key, or not a live secret API key.
        RateLimited: the account is over ``mcp_rate_limit`` calls this minute.
        """
        principal = self.services.projects.authenticate(raw_key)
        await self.charge(principal)
        return principal

    async def charge(self, principal: Principal) -> None:
        await charge(
            self.services.coord,
            f"mcp:{principal.account.id}",
            self.services.settings.mcp_rate_limit,
            60,
            "MCP rate limit exceeded ({limit} tool calls/min per account). Retry after {retry} s.",
            code="rate_limit_exceeded",
        )


def rate_limit_data(exc: RateLimited) -> dict[str, Any]:
    """Convalytics' rate-limit body: ``{error, message, retryAfter, resetAt}``."""
    return {
        "error": "rate_limit_exceeded",
        "message": exc.message,
        "retryAfter": exc.retry_after,
        "resetAt": exc.reset_at_ms,
    }


def _auth_message(exc: AuthError) -> str:
    return (
        f"{exc.message}. Tool calls need a secret API key (aak_…) as "
        "'Authorization: Bearer <key>'; create one with `agentlytics keys create`."
    )


#: the header that limits every tool's answers to one environment (Convalytics' own name)
ENVIRONMENT_HEADER = "x-convalytics-environment"
ENVIRONMENTS = ("production", "development")


def _environment(request: Any) -> str | None:
    """The environment a tool call is limited to, from its HTTP request's header (none on
    stdio: ``agentlytics mcp`` answers for every environment)."""
    if not isinstance(request, Request):
        return None
    value = (request.headers.get(ENVIRONMENT_HEADER) or "").strip().lower()
    if not value:
        return None
    if value not in ENVIRONMENTS:
        raise MCPError(
            INVALID_PARAMS,
            f"{ENVIRONMENT_HEADER} must be one of {', '.join(ENVIRONMENTS)} (got {value[:40]!r}); "
            "leave it out for every environment",
        )
    return value


class ToolCallAuth:
    """Server middleware: binds the caller for every ``tools/call``; refuses one without."""

    def __init__(
        self,
        admission: Admission,
        *,
        local_key: str | None = None,
        local: Principal | None = None,
    ) -> None:
        self.admission = admission
        #: stdio: the key to admit on every call, or else the local owner
        self.local_key = local_key
        self.local = local

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        token = _caller.set(await self._caller(ctx.request))
        scoped = only_environment.set(_environment(ctx.request))
        try:
            return await call_next(ctx)
        finally:
            only_environment.reset(scoped)
            _caller.reset(token)

    async def _caller(self, request: Any) -> Principal:
        try:
            if isinstance(request, Request):
                admitted = request.scope.get("state", {}).get(PRINCIPAL_KEY)
                if isinstance(admitted, Principal):
                    return admitted
                return await self.admission.admit(key_from_headers(request.headers))
            if self.local_key is None and self.local is not None:
                await self.admission.charge(self.local)
                return self.local
            return await self.admission.admit(self.local_key)
        except AuthError as exc:
            raise MCPError(AUTH_ERROR, _auth_message(exc)) from None
        except RateLimited as exc:
            raise MCPError(RATE_LIMIT_ERROR, exc.message, rate_limit_data(exc)) from None


class McpGate:
    """ASGI front of ``/mcp``: admits tool calls before the SDK's transport sees them."""

    def __init__(self, app: ASGIApp, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        call_id = _tool_call_id(body)
        if call_id is not _NOT_A_CALL:
            try:
                principal = await self.admission.admit(key_from_headers(Headers(scope=scope)))
            except AuthError as exc:
                await _rpc_error(send, 200, call_id, AUTH_ERROR, _auth_message(exc))
                return
            except RateLimited as exc:
                retry = {"retry-after": str(exc.retry_after)}
                data = rate_limit_data(exc)
                await _rpc_error(send, 429, call_id, RATE_LIMIT_ERROR, exc.message, data, retry)
                return
            scope.setdefault("state", {})[PRINCIPAL_KEY] = principal
        await self.app(scope, _replay(messages, receive), send)


_NOT_A_CALL = object()


async def _read_body(receive: Receive) -> tuple[list[Message], bytes]:
    """The request body (the app's body limit bounds it), and the messages to replay."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return messages, b"".join(chunks)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _tool_call_id(body: bytes) -> Any:
    """The id of the ``tools/call`` request in a body; ``_NOT_A_CALL`` when there is none
    (bodies that are not JSON are the SDK's to answer)."""
    try:
        data = json.loads(body)
    except ValueError:
        return _NOT_A_CALL
    for message in data if isinstance(data, list) else [data]:
        if isinstance(message, dict) and message.get("method") == "tools/call":
            return message.get("id")
    return _NOT_A_CALL


async def _rpc_error(
    send: Send,
    status: int,
    request_id: Any,
    code: int,
    message: str,
    data: Any = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "error": error}).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
