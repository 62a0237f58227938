"""``POST /track``, ``/track/batch`` and ``/identify``: the native ingest routes."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from agentlytics.api.common import (
    body_of,
    json_response,
    read_object,
    request_context,
    services,
)
from agentlytics.app import Services
from agentlytics.errors import AuthError, ForbiddenError, ValidationError
from agentlytics.ingest import columnar
from agentlytics.ingest.draft import RequestContext
from agentlytics.ingest.formats import native
from agentlytics.ingest.pipeline import MAX_ID
from agentlytics.model.event import Identity
from agentlytics.model.project import Project


def _project(svc: Services, ctx: RequestContext, token: Any) -> Project:
    if not token:
        raise ValidationError(
            "token is required: the project's write key (aat_…)", code="MISSING_FIELDS"
        )
    project = svc.projects.project_by_write_key(str(token))
    if project is None:
        raise AuthError("invalid or revoked project token", code="INVALID_TOKEN")
    origin = ctx.origin
    if not project.origin_allowed(origin):
        raise ForbiddenError(
            f"origin {origin} is not in this project's allowed_origins", code="FORBIDDEN"
        )
    return project


async def track(request: Request) -> Response:
    body = await read_object(request)
    if not body.get("event"):
        raise ValidationError("event is required (the event name)", code="MISSING_FIELDS")
    svc = services(request)
    ctx = request_context(request, svc)
    project = _project(svc, ctx, native.token_of(body))
    source = "browser" if native.looks_like_browser(ctx.headers) else "server"
    [outcome] = await svc.ingest.ingest(project, [native.draft(body, source=source)], ctx)
    if not outcome.ok:
        raise ValidationError(outcome.message or "invalid event", code=outcome.code)
    return json_response({"ok": True, "queued": True}, 202)


async def track_batch(request: Request) -> Response:
    svc = services(request)
    batch = native.decode_batch(await body_of(request))
    if batch is not None and 0 < len(batch.events) <= svc.settings.max_batch_size:
        answer = await _track_rows(svc, request, batch)
        if answer is not None:
            return answer
    return await _track_drafts(svc, request)


async def _track_rows(
    svc: Services, request: Request, batch: native.NativeBatch
) -> Response | None:
    """A batch of well-formed events, each straight to its row (``ingest/columnar.py``);
    None when it must go through the drafts (a bot's request, a store without rows)."""
    ctx = request_context(request, svc)
    source = "browser" if native.looks_like_browser(ctx.headers) else "server"
    if not columnar.takes_rows(svc.ingest, ctx, source):
        return None
    default_token = batch.token or batch.writeKey
    tokens = {e.token or e.writeKey or default_token for e in batch.events}
    tokens.discard(None)
    if len(tokens) > 1:
        raise ValidationError("all events in a batch must use the same token", code="INVALID_TOKEN")
    project = _project(svc, ctx, next(iter(tokens), None))
    failed = await columnar.ingest(svc.ingest, project, batch.events, ctx, source)
    rejected = [{"index": i, "error": code, "message": message} for i, code, message in failed]
    return _batch_answer(len(batch.events), rejected)


def _batch_answer(total: int, rejected: list[dict[str, Any]]) -> Response:
    count = total - len(rejected)
    if count == 0:
        return json_response(
            {
                "error": "INVALID_EVENTS",
                "message": "no event in the batch was valid; see rejected",
                "rejected": rejected,
            },
            400,
        )
    return json_response({"ok": True, "queued": True, "count": count, "rejected": rejected}, 202)


async def _track_drafts(svc: Services, request: Request) -> Response:
    """Any batch: its events as drafts through ``Ingestor.ingest``."""
    body = await read_object(request)
    events = body.get("events")
    if not isinstance(events, list):
        raise ValidationError("events must be an array of event objects", code="MISSING_FIELDS")
    limit = svc.settings.max_batch_size
    if len(events) > limit:
        raise ValidationError(
            f"max {limit} events per batch; split larger buffers into multiple requests",
            code="BATCH_TOO_LARGE",
        )
    if not events:
        return json_response({"ok": True, "queued": True, "count": 0, "rejected": []}, 202)
    ctx = request_context(request, svc)
    source = "browser" if native.looks_like_browser(ctx.headers) else "server"
    default_token = native.token_of(body)
    tokens = set()
    rejected: list[dict[str, Any]] = []
    drafts, positions = [], []
    for index, event in enumerate(events):  # one pass: the drafts and the tokens they name
        if not isinstance(event, dict):
            rejected.append(
                {"index": index, "error": "INVALID_FIELD", "message": "event must be an object"}
            )
            continue
        tokens.add(native.token_of(event) or default_token)
        drafts.append(native.draft(event, source=source))
        positions.append(index)
    tokens.discard(None)
    if len(tokens) > 1:
        raise ValidationError("all events in a batch must use the same token", code="INVALID_TOKEN")
    project = _project(svc, ctx, next(iter(tokens), None))
    outcomes = await svc.ingest.ingest(project, drafts, ctx)
    for index, outcome in zip(positions, outcomes, strict=True):
        if not outcome.ok:
            rejected.append({"index": index, "error": outcome.code, "message": outcome.message})
    rejected.sort(key=lambda r: r["index"])
    return _batch_answer(len(events), rejected)


async def identify(request: Request) -> Response:
    body = await read_object(request)
    previous_id, user_id = body.get("previous_id"), body.get("user_id")
    if not previous_id or not user_id:
        raise ValidationError("previous_id and user_id are required", code="MISSING_FIELDS")
    for name, value in (("previous_id", previous_id), ("user_id", user_id)):
        if not isinstance(value, str) or len(value) > MAX_ID:
            raise ValidationError(
                f"{name} must be a string of at most {MAX_ID} characters", code="INVALID_FIELD"
            )
    svc = services(request)
    ctx = request_context(request, svc)
    project = _project(svc, ctx, native.token_of(body))
    if previous_id != user_id:
        await svc.events.add_identity(
            Identity(
                project_id=project.id,
                previous_id=previous_id,
                user_id=user_id,
                created_at=ctx.received_at,
            )
        )
    return json_response({"ok": True}, 202)
