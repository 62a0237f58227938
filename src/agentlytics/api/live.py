"""``GET /live`` (a snapshot) and ``GET /stream`` (Server-Sent Events)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from agentlytics.api.common import json_response, principal, services
from agentlytics.api.reads import int_param, read_project
from agentlytics.errors import RateLimited
from agentlytics.query import live


async def live_snapshot(request: Request) -> Response:
    project = read_project(request)
    window = int_param(request, "window", 60, 10, 300)
    body = await live.snapshot(services(request).coord, project.id, window)
    body["project"] = project.name
    return json_response(body)


async def stream(request: Request) -> Response:
    who = principal(request)
    project = read_project(request)
    flt = live.StreamFilter.parse(
        request.query_params.get("events"), request.query_params.get("filter")
    )
    svc = services(request)
    settings = svc.settings
    slot_key = f"stream:{who.account.id}"
    token = await svc.coord.acquire_slot(slot_key, settings.stream_limit, ttl_s=7200)
    if token is None:
        raise RateLimited(
            f"at most {settings.stream_limit} concurrent streams per account; close one first",
            code="STREAM_LIMIT",
            retry_after=30,
            reset_at_ms=0,
            reason="stream_limit",
        )
    last_id = request.headers.get("last-event-id") or request.query_params.get("last_event_id")

    async def body() -> AsyncIterator[str]:
        try:
            hello = json.dumps({"project": project.name, **flt.as_json()})
            yield f"event: connected\ndata: {hello}\n\n"
            async for item in live.stream(
                svc.coord,
                project.id,
                flt,
                last_id=last_id,
                heartbeat_s=settings.stream_heartbeat_s,
                idle_timeout_s=settings.stream_idle_timeout_s,
            ):
                if item is live.HEARTBEAT:
                    yield ":heartbeat\n\n"
                    continue
                event_id, event = item  # type: ignore[misc]
                yield f"event: track\nid: {event_id}\ndata: {json.dumps(event)}\n\n"
        finally:
            await svc.coord.release_slot(slot_key, token)

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
