"""Funnels, retention, paths and saved funnels: parse, call ``query.*``/``projects.*``, answer.

``POST /paths`` answers, per entry page (most sessions first)::

    {goal_event, since, period{from,to}, max_steps,
     entries: [{entry_page, sessions, conversions, conversion_rate,
                paths: [{steps: ["/", "/pricing", "signup_started"], sessions,
                         outcome: "goal" | "drop_off" | "truncated"}],
                other_paths_sessions,
                exit_pages: [{page, sessions, conversions, drop_offs}]}],
     sessions_analyzed, conversions, truncated, project_context}

A step is a page path (from a page view) or an event name; ``truncated`` at the top says the
candidate-session cap left older sessions out. The rules are in ``query/paths.py``.
"""

from __future__ import annotations

from typing import Any

import msgspec
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
from agentlytics.api.reads import int_param, read_project, with_context
from agentlytics.projects import funnels as saved
from agentlytics.query import funnels, paths, retention


def _body(kind: type, **described: dict[str, Any]) -> dict[str, Any]:
    """A request struct's JSON Schema, inlined (OpenAPI resolves no ``$defs`` of its own)."""
    schema: dict[str, Any] = msgspec.json.schema(kind)["$defs"][kind.__name__]
    schema["properties"] = {**schema["properties"], **described}
    return schema


_FILTER = {
    "type": "object",
    "properties": {"property": {"type": "string"}, "op": {"type": "string"}, "value": {}},
}
FUNNEL_BODY = _body(
    funnels.FunnelRequest,
    project={"type": "string", "description": "project name or id"},
    steps={
        "type": "array",
        "minItems": 2,
        "maxItems": funnels.MAX_REQUEST_STEPS,
        "items": {
            "oneOf": [
                {
                    "type": "object",
                    "required": ["event"],
                    "properties": {
                        "event": {"type": "string"},
                        "filters": {"type": "array", "items": _FILTER},
                    },
                },
                {
                    "type": "object",
                    "required": ["kind", "match"],
                    "properties": {
                        "kind": {"enum": ["event", "pageview"]},
                        "match": {
                            "type": "string",
                            "description": "exact, or a prefix ending in *",
                        },
                        "label": {"type": "string"},
                    },
                },
            ]
        },
    },
    count_by={"enum": list(funnels.COUNT_BY), "default": "user_id"},
)
PATHS_BODY = _body(
    paths.PathsSpec,
    project={"type": "string", "description": "project name or id"},
    since={"enum": list(paths.SINCE_CHOICES), "default": "30d"},
)
RETENTION_QUERY = {
    "project": "project name or id",
    "period": "day, week (Monday) or month; default week",
    "cohorts": "number of cohorts (default 8; at most day 30, week 12, month 12)",
    "event": "cohort = first time doing this event (event-based retention)",
    "returning_event": "what counts as returning (default: event, else any event)",
    "until": "end of the last cohort (default now)",
}
SAVED_FUNNEL_QUERY = {
    "project": "optional: the funnel must belong to this project",
    "since": "start of the results period (default 7d)",
    "until": "end of the results period (default now)",
    "count_by": "user_id (default) or session_id",
}


async def funnel(request: Request) -> Response:
    """``POST /funnel``: an ad-hoc ordered funnel (native or Convalytics-style steps)."""
    body = await read_object(request)
    project = read_project(request, body.get("project") or request.query_params.get("project"))
    req = convert(body, funnels.FunnelRequest)
    spec = funnels.spec_from_request(req)
    engine = services(request).query
    period = engine.period(project, req.since, req.until, default="30d")
    result = await in_thread(funnels.run_funnel, engine, project, period, spec)
    return with_context(request, project, {"project": project.name, **result})


async def retention_report(request: Request) -> Response:
    """``GET /retention``: cohorts by first activity (or first ``event``) in the project's zone."""
    project = read_project(request)
    q = request.query_params
    spec = retention.check_spec(
        retention.RetentionSpec(
            period=q.get("period") or "week",
            cohorts=int_param(request, "cohorts", 8, 1, max(retention.MAX_COHORTS.values())),
            event=q.get("event") or None,
            returning_event=q.get("returning_event") or None,
        )
    )
    until = retention.parse_until(q.get("until"), project.timezone)
    engine = services(request).query
    result = await in_thread(lambda: retention.run_retention(engine, project, spec, until=until))
    return with_context(request, project, {"project": project.name, **result})


async def paths_report(request: Request) -> Response:
    """``POST /paths``: entry-page trees of session paths (shape in the module docstring)."""
    body = await read_object(request)
    project = read_project(
        request, body.pop("project", None) or request.query_params.get("project")
    )
    spec = paths.check_spec(convert(body, paths.PathsSpec))
    engine = services(request).query
    period = engine.period(project, spec.since, None)
    result = await in_thread(paths.run_paths, engine, project, period, spec)
    return with_context(request, project, {"project": project.name, **result})


# saved funnels ----------------------------------------------------------------------------


async def list_saved(request: Request) -> Response:
    project = read_project(request)
    found = saved.list_funnels(services(request).meta, project)
    return json_response({"project": project.name, "funnels": [f.as_json() for f in found]})


async def create_saved(request: Request) -> Response:
    who = principal(request)
    who.require_full()
    body = await read_object(request)
    project = read_project(request, body.get("project"))
    funnel = saved.create_funnel(
        services(request).meta,
        project,
        name=body.get("name"),
        steps=body.get("steps"),
        conversion_window_ms=body.get("conversion_window_ms"),
    )
    return json_response(funnel.as_json(), 201)


def _scope_project(request: Request, ref: str | None) -> str | None:
    """The id of the ``project`` a request names, to pin the funnel to it."""
    return read_project(request, ref).id if ref else None


async def get_saved(request: Request) -> Response:
    """The definition plus its results over ``since`` (default 7d) .. ``until``."""
    who = principal(request)
    q = request.query_params
    s = services(request)
    funnel = saved.get_funnel(
        s.meta,
        who.account.id,
        request.path_params["id"],
        project_id=_scope_project(request, q.get("project")),
    )
    project = s.projects.get_project(who.account, funnel.project_id)
    period = s.query.period(project, q.get("since"), q.get("until"), default="7d")
    results = await in_thread(
        lambda: funnels.compute_funnel(
            s.query,
            project,
            period,
            funnel.step_dicts(),
            conversion_window_ms=funnel.conversion_window_ms,
            count_by=q.get("count_by") or "user_id",
        )
    )
    return with_context(
        request, project, {**funnel.as_json(), "project": project.name, "results": results}
    )


async def update_saved(request: Request) -> Response:
    who = principal(request)
    who.require_full()
    body = await read_object(request)
    project_id = _scope_project(request, body.pop("project", None))
    funnel = saved.update_funnel(
        services(request).meta,
        who.account.id,
        request.path_params["id"],
        body,
        project_id=project_id,
    )
    return json_response(funnel.as_json())


async def delete_saved(request: Request) -> Response:
    who = principal(request)
    who.require_full()
    funnel = saved.delete_funnel(
        services(request).meta,
        who.account.id,
        request.path_params["id"],
        project_id=_scope_project(request, request.query_params.get("project")),
    )
    return json_response({"ok": True, "id": funnel.id, "deleted_at": funnel.deleted_at})
