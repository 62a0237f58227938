"""Read endpoints over sessions, insights, the heatmap and bot traffic: parse, call, answer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from agentlytics.api.common import in_thread, services
from agentlytics.api.reads import int_param, read_project, with_context
from agentlytics.errors import ValidationError
from agentlytics.query import bots
from agentlytics.query import insights as insights_q
from agentlytics.query import sessions as sessions_q
from agentlytics.query.model import MAX_LIMIT

_FLAGS = {"0": False, "false": False, "1": True, "true": True}

# query parameters, for the route table's OpenAPI document
_RANGE = {
    "project": "project name or id",
    "since": "start: YYYY-MM-DD, ISO datetime or shorthand (7d); default 7d",
    "until": "end (a date includes that whole day); default now",
}
SESSIONS_QUERY = {
    **_RANGE,
    "user_id": "only this (identity-resolved) user's sessions",
    "is_bounce": "1: only bounces, 0: only engaged sessions",
    "limit": "1-1000, default 100",
}
RANGE_QUERY = _RANGE
PAGES_QUERY = {**_RANGE, "type": "entry (default), exit or both", "limit": "1-1000, default 20"}
INSIGHTS_QUERY = {"project": _RANGE["project"], "period": "1d, 7d (default), 14d, 30d or 90d"}
HEATMAP_QUERY = {**_RANGE, "since": "start, read in UTC; default 7d"}
BOTS_QUERY = {**_RANGE, "period": "alias of since (7d)", "limit": "actors, 1-1000, default 100"}


def choice_param(request: Request, name: str, choices: tuple[str, ...], default: str) -> str:
    value = request.query_params.get(name) or default
    if value not in choices:
        raise ValidationError(
            f"{name} must be one of {', '.join(choices)} (got {value!r})", code="INVALID_PARAMETER"
        )
    return value


def flag_param(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in _FLAGS:
        raise ValidationError(f"{name} must be 0 or 1 (got {raw!r})", code="INVALID_PARAMETER")
    return _FLAGS[raw.lower()]


async def sessions(request: Request) -> Response:
    project = read_project(request)
    q = request.query_params
    engine = services(request).query
    period = engine.period(project, q.get("since"), q.get("until"))
    is_bounce = flag_param(request, "is_bounce")
    limit = int_param(request, "limit", 100, 1, MAX_LIMIT)
    body = await in_thread(
        lambda: sessions_q.list_sessions(
            engine, project, period, user_id=q.get("user_id"), is_bounce=is_bounce, limit=limit
        )
    )
    return with_context(request, project, body)


async def session_distribution(request: Request) -> Response:
    project = read_project(request)
    engine = services(request).query
    period = engine.period(
        project, request.query_params.get("since"), request.query_params.get("until")
    )
    body = await in_thread(sessions_q.distribution, engine, project, period)
    return with_context(request, project, body)


async def pages(request: Request) -> Response:
    project = read_project(request)
    q = request.query_params
    page_type = choice_param(request, "type", tuple(sessions_q.PAGE_TYPES), "entry")
    limit = int_param(request, "limit", 20, 1, MAX_LIMIT)
    engine = services(request).query
    period = engine.period(project, q.get("since"), q.get("until"))
    body = await in_thread(
        lambda: sessions_q.pages(engine, project, period, page_type=page_type, limit=limit)
    )
    return with_context(request, project, body)


async def insights(request: Request) -> Response:
    project = read_project(request)
    period = choice_param(request, "period", insights_q.INSIGHT_PERIODS, "7d")
    body = await in_thread(insights_q.insights, services(request).query, project, period)
    return with_context(request, project, body)


async def heatmap(request: Request) -> Response:
    project = read_project(request)
    period = insights_q.heatmap_period(
        request.query_params.get("since"), request.query_params.get("until")
    )
    body = await in_thread(insights_q.heatmap, services(request).query, project, period)
    return with_context(request, project, body)


async def bot_traffic(request: Request) -> Response:
    project = read_project(request)
    q = request.query_params
    limit = int_param(request, "limit", 100, 1, MAX_LIMIT)
    engine = services(request).query
    # the hosted docs' examples pass ?period=7d; since wins when both are given
    period = engine.period(project, q.get("since") or q.get("period"), q.get("until"))
    body = await in_thread(lambda: bots.bot_traffic(engine, project, period, limit=limit))
    return with_context(request, project, body)
