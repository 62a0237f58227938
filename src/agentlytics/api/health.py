"""``GET /health``: the stores answer, or 503."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from agentlytics import __version__
from agentlytics.api.common import in_thread, json_response, services

log = logging.getLogger(__name__)


async def health(request: Request) -> Response:
    svc = services(request)
    try:
        await in_thread(svc.events.query, "SELECT 1")
        await in_thread(svc.meta.get_state, "health")
    except Exception:
        log.exception("health check failed")
        return json_response({"status": "error", "service": "agentlytics"}, 503)
    return json_response(
        {
            "status": "ok",
            "service": "agentlytics",
            "version": __version__,
            "events_backend": svc.events.dialect,
        }
    )
