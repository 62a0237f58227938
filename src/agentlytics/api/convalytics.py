"""The Convalytics HTTP API (contracts.md A1): ``/api/provision``, ``/ingest``,
``/ingest/batch``, ``/verify``, ``/script.js`` (and ``/tracker.js``).

Its wire format is kept exactly, including its mix of plain-text errors (``/ingest``) and
JSON errors (everything else); so these handlers shape their own responses instead of
going through ``api/errors.py``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from agentlytics.api.common import (
    body_of,
    in_thread,
    json_response,
    request_context,
    services,
)
from agentlytics.app import Services
from agentlytics.errors import ForbiddenError, RateLimited
from agentlytics.ingest.formats import convalytics as fmt
from agentlytics.ingest.metered import MeteredResult
from agentlytics.model.project import Project
from agentlytics.projects.provision import (
    ProvisionLimited,
    clean_display_name,
    clean_slug,
)
from agentlytics.query.verify import verify_snapshot
from agentlytics.web import TRACKER_JS

_NOT_JSON = object()
_EVENT_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "description": "event name; page_view is a page view"},
    "userId": {"type": "string", "description": "stable user (or visitor) id"},
    "sessionId": {"type": "string"},
    "timestamp": {"type": "number", "description": "unix milliseconds"},
    "props": {
        "type": "object",
        "additionalProperties": {"type": ["string", "number", "boolean"]},
        "description": "string/number/boolean values; keys starting with $ or _ are dropped",
    },
    "userEmail": {"type": "string", "maxLength": 200},
    "userName": {"type": "string", "maxLength": 200},
    "deploymentName": {"type": "string", "description": "server deployment: sets environment"},
    "pageOrigin": {"type": "string", "description": "location.origin: a browser event"},
    "id": {"type": "string", "maxLength": 128, "description": "idempotency id (extension)"},
}
EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "userId", "sessionId", "timestamp"],
    "properties": _EVENT_PROPERTIES,
}
INGEST_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["writeKey", "name", "userId", "sessionId", "timestamp"],
    "properties": {"writeKey": {"type": "string"}, **_EVENT_PROPERTIES},
}
BATCH_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["writeKey", "events"],
    "properties": {
        "writeKey": {"type": "string"},
        "events": {"type": "array", "maxItems": fmt.MAX_BATCH, "items": EVENT_SCHEMA},
    },
}
PROVISION_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 100, "default": "Untitled Project"},
        "convexDeploymentSlug": {
            "type": "string",
            "description": "provisioning again with the same slug returns the same project",
        },
        "deploymentSlug": {"type": "string", "description": "alias of convexDeploymentSlug"},
    },
}
QUOTA_MESSAGE = (
    "Monthly event quota exceeded ({limit} custom events per project). Page views are still "
    "recorded; the server's operator can raise max_events_per_month."
)


# wiring --------------------------------------------------------------------------------


def base_url(request: Request) -> str:
    """Where clients reach this server: ``public_url``, else the request's own origin."""
    return services(request).settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")


# helpers -------------------------------------------------------------------------------


async def _decode(request: Request) -> Any:
    """The body as JSON, or ``_NOT_JSON``."""
    try:
        return msgspec.json.decode(await body_of(request))
    except msgspec.DecodeError:
        return _NOT_JSON


def _cors(request: Request) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": request.headers.get("origin") or "*",
        "Access-Control-Allow-Credentials": "true",
    }


def _retry_after(reset_at_ms: int) -> int:
    return max(1, math.ceil((reset_at_ms - time.time() * 1000) / 1000))


def _rate_limited(exc: RateLimited, message: str, **extra: Any) -> Response:
    retry = _retry_after(exc.reset_at_ms)
    body = {
        "error": "rate_limit_exceeded",
        "message": message,
        "retryAfter": retry,
        "resetAt": exc.reset_at_ms,
        **extra,
    }
    return json_response(body, 429, {"Retry-After": str(retry)})


def _quota_body(svc: Services, project: Project, limit: int) -> dict[str, Any]:
    account = svc.meta.get_account(project.account_id) if project.account_id else None
    return {
        "error": "quota_exceeded",
        "message": QUOTA_MESSAGE.format(limit=limit),
        "plan": account.tier if account else "unclaimed",
        "limit": limit,
    }


def _origin_refused(project: Project, request: Request) -> bool:
    return not project.origin_allowed(request.headers.get("origin"))


async def _run(request: Request, project: Project, drafts: list[Any]) -> MeteredResult:
    svc = services(request)
    result = await svc.metered_ingest.ingest(project, drafts, request_context(request))
    if result.site_origin and not project.site_url:
        await in_thread(svc.provisioner.note_site_url, project, result.site_origin)
    return result


# POST /api/provision -------------------------------------------------------------------


async def provision(request: Request) -> Response:
    raw = await request.body()
    body: Any = {} if not raw.strip() else await _decode(request)
    if body is _NOT_JSON:
        return json_response({"error": "Invalid JSON"}, 400)
    if not isinstance(body, dict):
        return json_response({"error": "Invalid body"}, 400)
    svc = services(request)
    slug = clean_slug(body.get("convexDeploymentSlug") or body.get("deploymentSlug"))
    try:
        made = await svc.provisioner.provision(
            clean_display_name(body.get("name")), slug, request_context(request).client_ip
        )
    except ForbiddenError as exc:
        return json_response({"error": exc.code, "message": exc.message}, 403)
    except RateLimited as exc:
        return _rate_limited(exc, exc.message)
    except ProvisionLimited as exc:
        return json_response({"error": exc.code, "message": exc.message}, 429)
    base = base_url(request)
    project = made.project
    return json_response(
        {
            "writeKey": project.write_key,
            "claimUrl": f"{base}/claim/{project.claim_token}",
            "claimToken": project.claim_token,
            "ingestUrl": f"{base}/ingest",
            "scriptUrl": f"{base}/script.js?key={project.write_key}",
        },
        headers={"Access-Control-Allow-Origin": "*"},
    )


# POST /ingest --------------------------------------------------------------------------


async def ingest(request: Request) -> Response:
    body = await _decode(request)
    if body is _NOT_JSON:
        return PlainTextResponse("Invalid JSON", 400)
    if isinstance(body, list):  # an array is a JS object without the fields
        body = {}
    if not isinstance(body, dict):
        return PlainTextResponse("Invalid body", 400)
    if not fmt.has_required_fields(body):
        return PlainTextResponse(fmt.MISSING_FIELDS, 400)
    svc = services(request)
    project = svc.projects.project_by_write_key(fmt.write_key_of(body))
    if project is None:
        return PlainTextResponse("Invalid write key", 401)
    if _origin_refused(project, request):
        return PlainTextResponse("Origin not allowed for this project", 403)
    try:
        result = await _run(request, project, [fmt.draft(body)])
    except RateLimited as exc:
        return _rate_limited(exc, exc.message)
    if result.over_quota:
        if fmt.is_browser(body):
            return Response(status_code=200)
        return json_response(_quota_body(svc, project, result.quota.limit), 402)
    [outcome] = result.outcomes
    if not outcome.ok:
        return PlainTextResponse(outcome.message or "Invalid event", 400)
    return Response(status_code=200)


# POST /ingest/batch --------------------------------------------------------------------


def _batch_error(status: int, error: str, message: str, **extra: Any) -> Response:
    return json_response({"error": error, "message": message, **extra}, status)


async def ingest_batch(request: Request) -> Response:
    body = await _decode(request)
    if body is _NOT_JSON:
        return _batch_error(400, "invalid_json", "Invalid JSON")
    if isinstance(body, list):
        body = {}
    if not isinstance(body, dict):
        return _batch_error(400, "invalid_body", "Body must be a JSON object")
    write_key, events = fmt.write_key_of(body), body.get("events")
    if not isinstance(write_key, str):
        return _batch_error(400, "missing_write_key", "writeKey is required")
    if not isinstance(events, list):
        return _batch_error(400, "invalid_events", "events must be an array")
    if not events:
        return json_response({"accepted": 0, "rejected": 0, "results": []})
    if len(events) > fmt.MAX_BATCH:
        return _batch_error(
            400,
            "batch_too_large",
            f"Batch size {len(events)} exceeds maximum of {fmt.MAX_BATCH}",
            maxBatchSize=fmt.MAX_BATCH,
        )
    svc = services(request)
    project = svc.projects.project_by_write_key(write_key)
    if project is None:
        return _batch_error(401, "invalid_write_key", "Invalid write key")
    if _origin_refused(project, request):
        return _batch_error(403, "origin_not_allowed", "Origin not allowed for this project")
    results: list[dict[str, str]] = []
    drafts, positions = [], []
    for index, event in enumerate(events):
        error = fmt.event_error(event)
        if error is not None:
            results.append({"status": "error", "error": error})
            continue
        results.append({"status": "ok"})
        drafts.append(fmt.draft(event))
        positions.append(index)
    if not drafts:
        return json_response({"accepted": 0, "rejected": len(results), "results": results})
    try:
        outcome = await _run(request, project, drafts)
    except RateLimited as exc:
        remaining = int(exc.extra.get("remaining", 0))
        limit = svc.settings.ingest_rate_limit
        message = (
            f"Rate limit exceeded. Batch of {len(drafts)} would exceed {limit} events/min. "
            f"Only {remaining} slots remaining."
        )
        return _rate_limited(exc, message, remaining=remaining)
    if outcome.over_quota:
        body = _quota_body(svc, project, outcome.quota.limit)
        body.update(
            partialIngest=outcome.page_views_stored > 0,
            acceptedPageviews=outcome.page_views_stored,
            rejectedProductEvents=outcome.product_events_refused,
        )
        return json_response(body, 402)
    for index, result in zip(positions, outcome.outcomes, strict=True):
        if not result.ok:
            results[index] = {"status": "error", "error": result.message or "invalid event"}
    rejected = sum(1 for r in results if r["status"] == "error")
    return json_response(
        {"accepted": len(results) - rejected, "rejected": rejected, "results": results}
    )


# GET /verify ---------------------------------------------------------------------------


async def verify(request: Request) -> Response:
    cors = _cors(request)
    write_key = request.query_params.get("writeKey", "")
    if not write_key:
        return json_response({"error": "missing_writeKey"}, 400, cors)
    svc = services(request)
    project = svc.projects.project_by_write_key(write_key)
    if project is None:
        return json_response({"error": "invalid_writeKey"}, 401, cors)
    now = int(time.time() * 1000)
    body = await in_thread(verify_snapshot, svc.query, project, now)
    return json_response(body, headers={**cors, "Cache-Control": "no-store"})


async def preflight(request: Request) -> Response:
    """CORS preflight for ``/verify`` and ``/api/provision`` (``/ingest*`` get theirs from
    the ingest CORS middleware)."""
    methods = "GET, OPTIONS" if request.url.path == "/verify" else "POST, OPTIONS"
    return Response(
        status_code=204,
        headers={
            **_cors(request),
            "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": "Content-Type",
        },
    )


# GET /script.js, /tracker.js -----------------------------------------------------------

_tracker_cache: dict[Path, tuple[float, bytes]] = {}


def _read_tracker(path: Path) -> bytes | None:
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _tracker_cache.get(path)
    if cached is None or cached[0] != mtime:
        cached = _tracker_cache[path] = (mtime, path.read_bytes())
    return cached[1]


async def script_js(request: Request) -> Response:
    """The browser tracker, Convalytics style: it takes its write key from its own URL
    (``/script.js?key=WRITE_KEY``)."""
    return await _serve_tracker()


async def tracker_js(request: Request) -> Response:
    """The browser tracker, Agent Analytics style: the write key is the script tag's
    ``data-token`` attribute."""
    return await _serve_tracker()


async def _serve_tracker() -> Response:
    content = await in_thread(_read_tracker, TRACKER_JS)
    if content is None:
        return json_response(
            {
                "error": "tracker_not_built",
                "message": "the browser tracker is not built on this server "
                "(src/agentlytics/web/static/tracker.js is missing); run tracker/build.py",
            },
            503,
        )
    return Response(
        content,
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )
