"""Sign up, sign in, sign out and claim a provisioned project.

``/`` (the projects list) and the project pages are the dashboard's (``web/dashboard.py``);
a successful claim lands there.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from agentlytics.api.common import in_thread, request_context, services
from agentlytics.errors import AgentlyticsError
from agentlytics.model.project import Account
from agentlytics.projects.provision import ClaimUsed
from agentlytics.query.verify import verify_snapshot
from agentlytics.web import TEMPLATES_DIR
from agentlytics.web.auth import (
    authenticate,
    check_csrf,
    csrf_token,
    current_account,
    finish,
    login,
    logout,
    safe_next,
    sign_up,
)

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
#: sign-in and sign-up attempts per client IP (each costs an Argon2 hash)
AUTH_ATTEMPTS_PER_MINUTE = 20
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # claim links carry their token in the path: never send it anywhere
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
) -> Response:
    """A template with the signed-in account and the CSRF token in its context."""
    ctx = {"account": current_account(request), "csrf_token": csrf_token(request)}
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status)
    response.headers.update(_PAGE_HEADERS)
    return finish(request, response)


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _attempt_allowed(request: Request) -> bool:
    svc = services(request)
    client = svc.ingest.hasher.address_key("web-auth", request_context(request).client_ip)
    decision = await svc.coord.hit(f"web-auth:{client}", 1, AUTH_ATTEMPTS_PER_MINUTE, 60)
    return decision.allowed


TOO_MANY = "Too many attempts from here; wait a minute and try again."


# sign up / sign in / sign out ----------------------------------------------------------


async def signup(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    if request.method == "GET":
        return render(request, "signup.html", {"next": next_url})
    form = await request.form()
    check_csrf(request, form)
    next_url = safe_next(_field(form, "next"))
    email = _field(form, "email")
    if not await _attempt_allowed(request):
        return render(request, "signup.html", {"next": next_url, "error": TOO_MANY}, 429)
    try:
        account = await sign_up(request, email, _field(form, "password"))
    except AgentlyticsError as exc:
        ctx = {"next": next_url, "error": exc.message, "email": email}
        return render(request, "signup.html", ctx, exc.status)
    response = redirect(next_url)
    login(request, response, account)
    return response


async def signin(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    if request.method == "GET":
        return render(request, "signin.html", {"next": next_url})
    form = await request.form()
    check_csrf(request, form)
    next_url = safe_next(_field(form, "next"))
    email = _field(form, "email")
    ctx: dict[str, Any] = {"next": next_url, "email": email}
    if not await _attempt_allowed(request):
        ctx["error"] = TOO_MANY
        return render(request, "signin.html", ctx, 429)
    account = await authenticate(request, email, _field(form, "password"))
    if account is None:
        ctx["error"] = "That e-mail and password do not match an account."
        return render(request, "signin.html", ctx, 400)
    response = redirect(next_url)
    login(request, response, account)
    return response


async def signout(request: Request) -> Response:
    if request.method == "GET":
        return render(request, "signout.html")
    form = await request.form()
    check_csrf(request, form)
    response = redirect("/signin")
    logout(request, response)
    return response


# claim ----------------------------------------------------------------------------------


def _claim_problem(request: Request, exc: AgentlyticsError, token: str) -> Response:
    account = current_account(request)
    if isinstance(exc, ClaimUsed) and account is not None:
        project = services(request).meta.find_project(claim_token=token)
        if project is not None and project.account_id == account.id:
            return redirect(f"/?claimed={project.name}")  # theirs already: nothing to do
    if isinstance(exc, ClaimUsed):
        title, text = (
            "This project has been claimed",
            (
                "The claim link was used already, so it cannot add the project to another "
                "account. If it is yours, sign in to see it."
            ),
        )
    elif exc.status == 404:
        title, text = (
            "This claim link is not valid",
            (
                "No project has this claim link. Check that the whole link was copied; "
                "`agentlytics init` prints it and keeps it in .agentlytics.json."
            ),
        )
    else:
        title, text = "The project could not be claimed", exc.message
    context = {"title": title, "text": text, "link": "/" if account else "/signin"}
    return render(request, "message.html", context, exc.status)


async def _claim_context(request: Request, token: str) -> dict[str, Any]:
    svc = services(request)
    project = svc.provisioner.project_for_claim(token)
    snapshot = await in_thread(verify_snapshot, svc.query, project, int(time.time() * 1000))
    return {
        "project": project,
        "events_24h": snapshot["events"]["last24h"],
        "pageviews_24h": snapshot["pageviews"]["last24h"],
        "token": token,
    }


async def claim(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        context = await _claim_context(request, token)
    except AgentlyticsError as exc:
        return _claim_problem(request, exc, token)
    if request.method == "GET":
        return render(request, "claim.html", context)
    form = await request.form()
    check_csrf(request, form)
    action = _field(form, "action")
    email = _field(form, "email")
    account: Account | None = current_account(request)
    context.update(email=email, action=action)
    if action in ("signup", "signin") and not await _attempt_allowed(request):
        context["error"] = TOO_MANY
        return render(request, "claim.html", context, 429)
    try:
        if action == "signup":
            account = await sign_up(request, email, _field(form, "password"))
        elif action == "signin":
            account = await authenticate(request, email, _field(form, "password"))
            if account is None:
                context["error"] = "That e-mail and password do not match an account."
                return render(request, "claim.html", context, 400)
    except AgentlyticsError as exc:
        context["error"] = exc.message
        return render(request, "claim.html", context, exc.status)
    if account is None:
        return render(request, "claim.html", context, 400)
    try:
        project = await in_thread(services(request).provisioner.claim, token, account)
    except AgentlyticsError as exc:
        return _claim_problem(request, exc, token)
    response = redirect(f"/?claimed={project.name}")
    if action in ("signup", "signin"):
        login(request, response, account)
    return response


ROUTES: list[BaseRoute] = [
    Route("/signup", signup, methods=["GET", "POST"], name="signup"),
    Route("/signin", signin, methods=["GET", "POST"], name="signin"),
    Route("/signout", signout, methods=["GET", "POST"], name="signout"),
    Route("/claim/{token}", claim, methods=["GET", "POST"], name="claim"),
]
