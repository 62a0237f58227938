"""Helpers every HTTP handler uses: JSON in and out, credentials, the request context."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio.to_thread
import msgspec
from starlette.requests import Request
from starlette.responses import Response

from agentlytics.api.middleware import BODY_KEY
from agentlytics.app import Services
from agentlytics.errors import ValidationError
from agentlytics.ingest.draft import RequestContext
from agentlytics.ingest.privacy import client_ip
from agentlytics.limits import charge
from agentlytics.projects.service import Principal

T = TypeVar("T")
_encoder = msgspec.json.Encoder()
#: where :func:`principal` keeps the caller it resolved, for the rest of the request
PRINCIPAL_KEY = "agentlytics.principal"


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSON:
    return JSON(data, status_code=status, headers=headers)


async def body_of(request: Request) -> bytes:
    """The request body (already read when the ingest fast path took the request)."""
    body: bytes | None = request.scope.get(BODY_KEY)
    return body if body is not None else await request.body()


async def read_json(request: Request) -> Any:
    """The body as JSON, whatever the content type (beacons send text/plain).

    Raises:
        ValidationError: an empty body or one that is not JSON (INVALID_JSON).
    """
    body = await body_of(request)
    if not body.strip():
        raise ValidationError("the request body is empty; send a JSON object", code="INVALID_JSON")
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ValidationError(
            f"the request body is not valid JSON: {exc}", code="INVALID_JSON"
        ) from None


async def read_object(request: Request) -> dict[str, Any]:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ValidationError("the request body must be a JSON object", code="INVALID_JSON")
    return data


def convert(data: Any, kind: type[T]) -> T:
    """Check a decoded body against a typed struct, with an error that names the field (and,
    for a value outside a fixed set, the values it takes)."""
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        message = str(exc)
        enum = _ENUM_ERROR.match(message)
        values = choices(kind, enum.group(1)) if enum else None
        if values:
            message += f"; valid: {', '.join(str(v) for v in values)}"
        raise ValidationError(
            message, code="MISSING_FIELDS" if "missing" in message else "INVALID_FIELD"
        ) from None


_ENUM_ERROR = re.compile(r"Invalid enum value .* - at `(\$[^`]*)`$")
_PATH_STEP = re.compile(r"\.([^.\[]+)|\[\d+\]")


def choices(kind: Any, path: str) -> tuple[Any, ...] | None:
    """The values the literal at ``path`` (as msgspec names it: ``$.filters[0].op``) of the
    type ``kind`` takes; None when the path does not end at one."""

    def unwrap(
        info: Any, want: type | tuple[type, ...]
    ) -> Any:  # the member of an optional/union of that kind
        if isinstance(info, msgspec.inspect.UnionType):
            return next((t for t in info.types if isinstance(t, want)), None)
        return info if isinstance(info, want) else None

    info: Any = msgspec.inspect.type_info(kind)
    for step in _PATH_STEP.finditer(path.removeprefix("$")):
        if step.group(1) is not None:
            struct = unwrap(info, msgspec.inspect.StructType)
            fields = {f.encode_name: f.type for f in struct.fields} if struct else {}
            info = fields.get(step.group(1))
        else:
            items = unwrap(info, (msgspec.inspect.ListType, msgspec.inspect.VarTupleType))
            info = items.item_type if items else None
        if info is None:
            return None
    literal = unwrap(info, msgspec.inspect.LiteralType)
    return tuple(literal.values) if literal else None


def api_key(request: Request) -> str | None:
    """A secret key from ``X-API-Key``, ``Authorization: Bearer`` or ``?key=``."""
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.query_params.get("key")


def principal(request: Request) -> Principal:
    """The account a request acts for: its API key, or else the web session cookie
    (rules in ``web/api_session.py``: full scope, CSRF header on changes). Resolved once
    per request."""
    known = request.scope.get(PRINCIPAL_KEY)
    if isinstance(known, Principal):
        return known
    raw = api_key(request)
    found: Principal | None = None
    if not raw:
        # imported here: web.auth builds on this module
        from agentlytics.web.api_session import session_principal

        found = session_principal(request)
    if found is None:
        found = services(request).projects.authenticate(raw)
    request.scope[PRINCIPAL_KEY] = found
    return found


async def charge_read(request: Request) -> None:
    """Count one read against the account of the request's API key: ``read_rate_limit``
    per minute (0 = unlimited), on the coordinator's counters, so every process of a
    scale-out deployment shares the count. Reads of a signed-in browser (the dashboard,
    no API key) are not counted.

    Raises:
        AuthError: a missing or bad API key (before anything is counted).
        RateLimited: the account has made ``read_rate_limit`` reads this minute; answered
            as the ingest limit is, ``429 {error: "RATE_LIMITED", message, reason:
            "rate_limit", retry_after, remaining}`` with ``Retry-After``.
    """
    svc = services(request)
    limit = svc.settings.read_rate_limit
    if limit <= 0 or not api_key(request):
        return
    await charge(
        svc.coord,
        f"read:{principal(request).account.id}",
        limit,
        60,
        "API read rate limit exceeded ({limit} reads/min per account). Retry after {retry} s.",
        reason="rate_limit",
    )


def charged(handler: Callable[[Request], Awaitable[Response]]) -> Callable[..., Any]:
    """``handler`` behind :func:`charge_read`: the route of a read endpoint."""

    async def read(request: Request) -> Response:
        await charge_read(request)
        return await handler(request)

    read.__name__ = read.__qualname__ = handler.__name__
    read.__doc__ = handler.__doc__
    return read


def request_context(request: Request, svc: Services | None = None) -> RequestContext:
    """What the pipeline needs of a request (``svc``: its services, when the caller has
    them at hand)."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"]}
    client = request.scope.get("client")
    peer = client[0] if client else None
    trust = (svc or services(request)).settings.trust_proxy_headers
    return RequestContext(
        headers=headers,
        client_ip=client_ip(headers, peer, trust),
        received_at=int(time.time() * 1000),
    )


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking work (a query, a metadata write) off the event loop."""
    return await anyio.to_thread.run_sync(fn, *args)
