"""The two server calls the agent commands make: ``POST /api/provision`` and ``GET /verify``."""

from __future__ import annotations

from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8720"
TIMEOUT_S = 15.0


class RemoteError(Exception):
    """The server could not be reached or refused the request; the message says which."""


def _call(method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        r = httpx.request(method, url, timeout=TIMEOUT_S, **kwargs)
    except httpx.HTTPError as exc:
        raise RemoteError(f"cannot reach {url}: {exc}") from None
    try:
        body = r.json()
    except ValueError:
        body = None
    if r.status_code >= 400:
        detail = body.get("message") or body.get("error") if isinstance(body, dict) else r.text
        raise RemoteError(f"{url} answered {r.status_code}: {detail or r.reason_phrase}")
    if not isinstance(body, dict):
        raise RemoteError(f"{url} did not answer with a JSON object")
    return body


def provision(url: str, name: str, slug: str) -> dict[str, Any]:
    """A new unclaimed project (or the one made before for ``slug``).

    Raises:
        RemoteError: unreachable server, provisioning off, or over a limit.
    """
    body = {"name": name, "deploymentSlug": slug}
    return _call("POST", url.rstrip("/") + "/api/provision", json=body)


def verify(url: str, write_key: str) -> dict[str, Any]:
    """The ``/verify`` snapshot for a write key.

    Raises:
        RemoteError: unreachable server or an unknown write key.
    """
    return _call("GET", url.rstrip("/") + "/verify", params={"writeKey": write_key})
