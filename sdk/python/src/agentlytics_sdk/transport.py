"""The one function that talks to the server: POST a JSON body, map the answer."""

from __future__ import annotations

import email.utils
import time

import httpx

from agentlytics_sdk.errors import APIError

_HEADERS = {"Content-Type": "application/json"}


def post(http: httpx.Client, url: str, body: bytes) -> httpx.Response:
    """POST `body` to `url` and return the 2xx response.

    Raises:
        APIError: the server answered with any other status.
        httpx.TransportError: the request never got an answer (connect error, timeout, ...).
    """
    response = http.post(url, content=body, headers=_HEADERS)
    if 200 <= response.status_code < 300:
        return response
    raise APIError(
        response.status_code,
        response.text,
        parse_retry_after(response.headers.get("Retry-After")),
    )


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
