"""Map core exceptions to the native API's ``{error: CODE, message}`` bodies, in one place."""

from __future__ import annotations

import logging
import math
import time

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from agentlytics.api.common import json_response
from agentlytics.errors import AgentlyticsError, RateLimited

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "AUTH_REQUIRED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
}


def error_body(exc: AgentlyticsError) -> dict[str, object]:
    body: dict[str, object] = {"error": exc.code, "message": exc.message}
    body.update(exc.extra)
    return body


def rate_limit_headers(exc: RateLimited) -> dict[str, str]:
    retry = max(1, math.ceil((exc.reset_at_ms - time.time() * 1000) / 1000))
    return {"Retry-After": str(min(retry, exc.retry_after) if exc.retry_after else retry)}


async def agentlytics_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AgentlyticsError)
    if isinstance(exc, RateLimited):
        body = error_body(exc)
        body["reason"] = exc.reason
        body["retry_after"] = exc.retry_after
        return json_response(body, 429, rate_limit_headers(exc))
    if exc.status >= 500:
        log.error("internal error: %s", exc.message)
    return json_response(error_body(exc), exc.status)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "ERROR")
    message = exc.detail if exc.status_code != 404 else f"no route for {request.url.path}"
    return json_response(
        {"error": code, "message": message}, exc.status_code, dict(exc.headers or {})
    )


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return json_response(
        {"error": "INTERNAL", "message": "internal server error; the server log has details"},
        500,
    )


EXCEPTION_HANDLERS = {
    AgentlyticsError: agentlytics_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
