"""The Agnost API, so existing Agnost SDKs work when pointed at us.

``X-Org-Id`` (or ``org_id`` in the body) carries the project write key. The routes also answer
under the doubled ``/api/v1/api/v1/`` prefix that the Agnost Python SDK produces when it is
given the base URL from its README.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from agentlytics.api.common import in_thread, json_response, request_context, services
from agentlytics.errors import AgentlyticsError, RateLimited, ValidationError
from agentlytics.ingest.formats import agnost
from agentlytics.model.project import Project


def _error(status: int, message: str, code: str) -> Response:
    return json_response({"success": False, "error": code, "message": message}, status)


async def _body_and_project(request: Request) -> tuple[dict[str, Any], Project] | Response:
    try:
        body = msgspec.json.decode(await request.body())
    except msgspec.DecodeError:
        return _error(400, "the request body is not valid JSON", "invalid_body")
    if not isinstance(body, dict):
        return _error(400, "the request body must be a JSON object", "invalid_body")
    org = request.headers.get("x-org-id") or body.get("org_id")
    if not org:
        return _error(401, "X-Org-Id header is required (your project write key)", "unauthorized")
    project = services(request).projects.project_by_write_key(str(org))
    if project is None:
        return _error(401, "invalid organization id (use the project write key)", "unauthorized")
    return body, project


async def _ingest(request: Request, project: Project, draft: Any) -> Response | None:
    try:
        [outcome] = await services(request).ingest.ingest(
            project, [draft], request_context(request)
        )
    except RateLimited as exc:
        return json_response(
            {"success": False, "error": "rate_limited", "message": exc.message},
            429,
            {"Retry-After": str(exc.retry_after)},
        )
    if not outcome.ok:
        return _error(400, outcome.message or "invalid event", "invalid_body")
    return None


async def capture_session(request: Request) -> Response:
    parsed = await _body_and_project(request)
    if isinstance(parsed, Response):
        return parsed
    body, project = parsed
    try:
        session_id, info, draft = agnost.session_draft(body)
    except AgentlyticsError as exc:
        return _error(400, exc.message, exc.code)
    await in_thread(services(request).mcp_sessions.remember, project.id, session_id, info)
    failed = await _ingest(request, project, draft)
    return failed or json_response({"session_id": session_id}, 200)


async def capture_event(request: Request) -> Response:
    parsed = await _body_and_project(request)
    if isinstance(parsed, Response):
        return parsed
    body, project = parsed
    try:
        session_id = agnost.check_uuid(body.get("session_id"))
        session = await in_thread(services(request).mcp_sessions.get, project.id, session_id)
        if session is None:
            return _error(
                404,
                f"session {session_id} not found; create it with /api/v1/capture-session first",
                "session_not_found",
            )
        draft = agnost.event_draft(body, session)
    except ValidationError as exc:
        return _error(400, exc.message, exc.code)
    draft.event_id = "evt_" + uuid.uuid4().hex
    failed = await _ingest(request, project, draft)
    return failed or json_response({"success": True, "event_id": draft.event_id}, 200)
