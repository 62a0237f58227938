"""Read endpoints: parse parameters, call ``query.reports``, answer JSON."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from agentlytics.api.common import (
    convert,
    in_thread,
    json_response,
    principal,
    read_object,
    services,
)
from agentlytics.errors import ValidationError
from agentlytics.model.project import Project
from agentlytics.query import breakdowns, reports
from agentlytics.query.model import MAX_LIMIT, QuerySpec, query_schema


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"{name} must be a whole number", code="INVALID_PARAMETER") from None
    if not low <= value <= high:
        raise ValidationError(f"{name} must be between {low} and {high}", code="INVALID_PARAMETER")
    return value


def read_project(request: Request, ref: str | None = None) -> Project:
    """The project named by ``?project=`` (name or id), if this key's account owns it."""
    who = principal(request)
    return services(request).projects.get_project(
        who.account, ref or request.query_params.get("project")
    )


def with_context(request: Request, project: Project, body: dict[str, Any]) -> Response:
    body["project_context"] = services(request).projects.context(project)
    return json_response(body)


async def stats(request: Request) -> Response:
    project = read_project(request)
    group_by = request.query_params.get("groupBy") or request.query_params.get("group_by") or "day"
    if group_by not in reports.STATS_GROUPS:
        raise ValidationError(
            f"groupBy must be one of {', '.join(reports.STATS_GROUPS)}", code="INVALID_GROUP_BY"
        )
    engine = services(request).query
    period = engine.period(
        project, request.query_params.get("since"), request.query_params.get("until")
    )
    body = await in_thread(reports.stats, engine, project, period, group_by)
    return with_context(request, project, body)


async def events(request: Request) -> Response:
    project = read_project(request)
    q = request.query_params
    engine = services(request).query
    period = engine.period(project, q.get("since"), q.get("until"))
    body = await in_thread(
        lambda: reports.events_log(
            engine,
            project,
            period,
            event=q.get("event"),
            session_id=q.get("session_id"),
            user_id=q.get("user_id"),
            limit=int_param(request, "limit", 100, 1, MAX_LIMIT),
        )
    )
    return with_context(request, project, body)


async def query(request: Request) -> Response:
    body = await read_object(request)
    project = read_project(
        request, body.pop("project", None) or request.query_params.get("project")
    )
    # the common parameters' names are accepted too
    for alias, name in (("since", "date_from"), ("until", "date_to")):
        if alias in body:
            body.setdefault(name, body.pop(alias))
    spec = convert(body, QuerySpec)
    engine = services(request).query
    result = await in_thread(engine.run, project, spec)
    return with_context(
        request,
        project,
        {
            "project": project.name,
            "period": result.period.as_json(),
            "metrics": spec.metrics,
            "group_by": spec.group_by,
            "rows": result.rows,
            "count": len(result.rows),
            "truncated": result.truncated,
        },
    )


_SCHEMA = query_schema()


async def query_schema_route(request: Request) -> Response:
    return json_response(_SCHEMA)


async def properties(request: Request) -> Response:
    project = read_project(request)
    engine = services(request).query
    period = engine.period(
        project, request.query_params.get("since"), request.query_params.get("until"), default="30d"
    )
    body = await in_thread(reports.properties, engine, project, period)
    return with_context(request, project, body)


async def properties_received(request: Request) -> Response:
    project = read_project(request)
    sample = int_param(request, "sample", 5000, 100, 10_000)
    engine = services(request).query
    period = engine.period(
        project, request.query_params.get("since"), request.query_params.get("until"), default="90d"
    )
    keys = await in_thread(lambda: reports.property_keys(engine, project, period, sample=sample))
    return with_context(
        request,
        project,
        {
            "project": project.name,
            "sample": sample,
            "events": [{"event": name, "property_keys": k} for name, k in keys.items()],
        },
    )


async def breakdown(request: Request) -> Response:
    project = read_project(request)
    q = request.query_params
    prop = q.get("property")
    if not prop:
        raise ValidationError(
            "property is required (a property key, or country/path/referrer/browser/…)",
            code="MISSING_FIELDS",
        )
    engine = services(request).query
    period = engine.period(project, q.get("since"), q.get("until"))
    body = await in_thread(
        lambda: breakdowns.breakdown(
            engine,
            project,
            period,
            prop=prop,
            event=q.get("event"),
            limit=int_param(request, "limit", 20, 1, MAX_LIMIT),
        )
    )
    return with_context(request, project, body)


async def get_project_context(request: Request) -> Response:
    project = read_project(request)
    return json_response(
        {"project": project.name, "project_context": services(request).projects.context(project)}
    )


async def put_project_context(request: Request) -> Response:
    who = principal(request)
    who.require_full()
    body = await read_object(request)
    project = read_project(request, body.pop("project", None))
    context = services(request).projects.set_context(project, body)
    return json_response({"ok": True, "project": project.name, "project_context": context})
