"""Web sign-in: accounts with passwords, server-side sessions, CSRF tokens.

The API pages build on::

    account = current_account(request)          # Account | None
    account = require_account(request)          # or a 303 to /signin?next=…
    login(request, response, account)           # new session + cookie
    logout(request, response)
    token = csrf_token(request)                 # put in every form as "csrf_token"
    check_csrf(request, form)                   # on every POST; 403 when wrong
    finish(request, response)                   # sets the CSRF cookie a page minted

* Passwords are hashed with Argon2id (``argon2-cffi``'s defaults) off the event loop.
* A session is a random token in an ``HttpOnly; SameSite=Lax`` cookie (``Secure`` on https,
  or always when ``secure_cookies = "always"``); the server keeps only its SHA-256, as a
  MetaStore document of kind ``web_session`` owned by the account.
* CSRF: a signed-in visitor's token belongs to the session; before sign-in it is a random
  value in its own cookie that the form must repeat (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from agentlytics.api.common import in_thread, services
from agentlytics.errors import Conflict, ValidationError
from agentlytics.model.project import Account
from agentlytics.projects import passwords
from agentlytics.projects.passwords import MAX_PASSWORD, check_new_password

SESSION_COOKIE = "agentlytics_session"
CSRF_COOKIE = "agentlytics_csrf"
CSRF_FIELD = "csrf_token"
SESSION_KIND = "web_session"
SESSION_SECONDS = 30 * 24 * 3600


async def hash_password(password: str) -> str:
    return await in_thread(passwords.hash_password, password)


async def sign_up(request: Request, email: str, password: str) -> Account:
    """A new account with this e-mail and password.

    Raises:
        ValidationError: a bad e-mail or a weak password.
        Conflict: an account with this e-mail exists.
    """
    email = email.strip()
    if "@" not in email or len(email) > 254:
        raise ValidationError("enter a valid e-mail address", code="INVALID_EMAIL")
    check_new_password(password)
    svc = services(request)
    if svc.meta.get_account_by_email(email):
        raise Conflict("an account with this e-mail exists; sign in instead", code="ACCOUNT_EXISTS")
    return svc.projects.create_account(email, await hash_password(password))


async def authenticate(request: Request, email: str, password: str) -> Account | None:
    """The account if the password is right; None otherwise (whatever the reason)."""
    svc = services(request)
    account = svc.meta.get_account_by_email(email.strip()) if email.strip() else None
    stored = account.password_hash if account else None
    if not await in_thread(passwords.verify_password, stored, password[:MAX_PASSWORD]):
        return None
    assert account is not None and stored is not None
    if passwords.needs_rehash(stored):
        account.password_hash = await hash_password(password)
        svc.meta.update_account(account)
    return account


# sessions -----------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _secure(request: Request) -> bool:
    mode = services(request).settings.secure_cookies
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def _session(request: Request) -> dict[str, Any] | None:
    if hasattr(request.state, "web_session"):
        cached: dict[str, Any] | None = request.state.web_session
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    found = None
    if token and len(token) < 200:
        doc = services(request).meta.get_doc(SESSION_KIND, _digest(token))
        if doc is not None and doc.get("expires_at", 0) > time.time():
            found = doc
    request.state.web_session = found
    return found


def current_account(request: Request) -> Account | None:
    """The signed-in account, or None."""
    if hasattr(request.state, "web_account"):
        cached: Account | None = request.state.web_account
        return cached
    session = _session(request)
    account = services(request).meta.get_account(session["account_id"]) if session else None
    request.state.web_account = account
    return account


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after sign-in (never another site)."""
    # browsers drop tabs and newlines in URLs, so "/\t/evil.example" would become "//…"
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not any(c == "\\" or ord(c) < 33 or ord(c) == 127 for c in target)
    ):
        return target
    return default


def require_account(request: Request) -> Account:
    """The signed-in account.

    Raises:
        HTTPException: 303 to ``/signin?next=<this page>`` when nobody is signed in.
    """
    account = current_account(request)
    if account is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, headers={"Location": f"/signin?next={quote(here, safe='')}"})
    return account


def login(request: Request, response: Response, account: Account) -> None:
    """Start a new session for ``account`` (any earlier one of this browser ends)."""
    svc = services(request)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        svc.meta.delete_doc(SESSION_KIND, _digest(old))
    token = secrets.token_urlsafe(32)
    now = time.time()
    session = {
        "account_id": account.id,
        "csrf": secrets.token_urlsafe(32),
        "created_at": int(now),
        "expires_at": int(now + SESSION_SECONDS),
    }
    svc.meta.put_doc(SESSION_KIND, _digest(token), account.id, session)
    request.state.web_session = session
    request.state.web_account = account
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_SECONDS,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )


def logout(request: Request, response: Response) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        services(request).meta.delete_doc(SESSION_KIND, _digest(token))
    request.state.web_session = None
    request.state.web_account = None
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=_secure(request), httponly=True, samesite="lax"
    )


# CSRF ---------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The token every form of this visitor must carry (``<input name="csrf_token">``)."""
    session = _session(request)
    if session is not None:
        return str(session["csrf"])
    token = request.cookies.get(CSRF_COOKIE, "")
    if not 32 <= len(token) <= 64:
        token = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


def check_csrf(request: Request, form: FormData) -> None:
    """Raises: HTTPException 403 when the form's token is missing or not this visitor's."""
    sent = form.get(CSRF_FIELD)
    expected = csrf_token(request)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise HTTPException(
            403, "the form's security token is missing or out of date; reload the page and retry"
        )


def finish(request: Request, response: Response) -> Response:
    """Set the pre-sign-in CSRF cookie when this request minted one."""
    token = getattr(request.state, "new_csrf", None)
    if token and _session(request) is None:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            max_age=SESSION_SECONDS,
            path="/",
            secure=_secure(request),
            httponly=True,
            samesite="lax",
        )
    return response
