"""The web session as a credential for the JSON API, so the dashboard reads what agents read.

With no API key on a request, a valid ``agentlytics_session`` cookie makes the signed-in
account the principal, with full scope. Rules:

* An API key, when one is sent, always wins (and a bad one is a 401: no fallback).
* Requests that change state (anything but GET/HEAD/OPTIONS) must repeat the session's CSRF
  token in ``X-CSRF-Token``. The cookie is ``SameSite=Lax`` as well, so other sites cannot
  send it on a cross-site POST or fetch; the header is the second lock.
* ``POST /account/revoke-key`` rotates the key a request was made with, and a session has
  none; like the hosted API's agent sessions, it is refused (keys are managed under
  ``/account/keys``).
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from agentlytics.errors import ForbiddenError
from agentlytics.model.project import ApiKey
from agentlytics.projects.service import Principal
from agentlytics.web.auth import csrf_token, current_account

CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_KEY_ID = "web_session"
_KEYLESS_PATHS = frozenset({"/account/revoke-key"})


def session_principal(request: Request) -> Principal | None:
    """The signed-in account as an API principal, or None without a valid session.

    Raises:
        ForbiddenError: a state-changing request without the session's CSRF token
            (``CSRF_FAILED``), or a route that needs a real API key (``API_KEY_REQUIRED``).
    """
    account = current_account(request)
    if account is None:
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent, csrf_token(request)):
            raise ForbiddenError(
                "a signed-in browser must send the page's CSRF token in X-CSRF-Token "
                "to change anything; reload the page and retry",
                code="CSRF_FAILED",
            )
    if request.url.path in _KEYLESS_PATHS:
        raise ForbiddenError(
            "this route rotates the API key a request is made with, and a browser session has "
            "none; create and revoke keys with POST /account/keys and DELETE /account/keys/{id}",
            code="API_KEY_REQUIRED",
        )
    key = ApiKey(
        id=SESSION_KEY_ID,
        account_id=account.id,
        name="web session",
        scope="full",
        prefix="(web session)",
        key_hash="",
        created_at=account.created_at,
    )
    return Principal(account=account, key=key)
