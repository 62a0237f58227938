"""Experiment routes: parse, call :class:`ExperimentService`, answer JSON."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from agentlytics.api.common import in_thread, json_response, principal, read_object, services
from agentlytics.api.reads import read_project
from agentlytics.errors import AuthError, ValidationError
from agentlytics.experiments.service import (
    MAX_GOAL_EVENT,
    MAX_VARIANTS,
    MIN_VARIANTS,
    NAME_RE,
    TRANSITIONS,
    ExperimentService,
    experiment_json,
)

_NAME: dict[str, Any] = {"type": "string", "pattern": NAME_RE.pattern}
CREATE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["project", "name", "variants", "goal_event"],
    "properties": {
        "project": {"type": "string", "description": "project name or id"},
        "name": {**_NAME, "description": "unique in the project; the key the tracker hashes"},
        "variants": {
            "type": "array",
            "items": _NAME,
            "minItems": MIN_VARIANTS,
            "maxItems": MAX_VARIANTS,
            "description": "variant names; the first is the control",
        },
        "goal_event": {"type": "string", "maxLength": MAX_GOAL_EVENT},
        "weights": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 99},
            "description": "one per variant, summing to 100; default an equal split",
        },
    },
}
UPDATE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string", "enum": list(TRANSITIONS)},
        "winner": {"type": "string", "description": "a variant key; only when completing"},
    },
}


def experiments(request: Request) -> ExperimentService:
    """The process's ExperimentService (one per process, so its tracker-config cache is
    shared with the MCP tools)."""
    return services(request).experiments


async def create_experiment(request: Request) -> Response:
    principal(request).require_full()
    body = await read_object(request)
    project = read_project(request, body.get("project") or request.query_params.get("project"))
    exp = await in_thread(
        lambda: experiments(request).create(
            project,
            name=body.get("name"),
            variants=body.get("variants"),
            goal_event=body.get("goal_event"),
            weights=body.get("weights"),
        )
    )
    return json_response(experiment_json(exp, project), 201)


async def list_experiments(request: Request) -> Response:
    project = read_project(request)
    found = await in_thread(experiments(request).list, project)
    return json_response(
        {"project": project.name, "experiments": [experiment_json(e, project) for e in found]}
    )


async def get_experiment(request: Request) -> Response:
    who = principal(request)
    report = await in_thread(experiments(request).report, who.account, request.path_params["id"])
    return json_response(report)


async def update_experiment(request: Request) -> Response:
    who = principal(request)
    who.require_full()
    body = await read_object(request)
    exp, project = await in_thread(
        lambda: experiments(request).update(
            who.account,
            request.path_params["id"],
            status=body.get("status"),
            winner=body.get("winner"),
        )
    )
    return json_response(experiment_json(exp, project))


async def delete_experiment(request: Request) -> Response:
    who = principal(request)
    who.require_full()
    exp = await in_thread(experiments(request).delete, who.account, request.path_params["id"])
    return json_response({"ok": True, "deleted": exp.id})


async def experiment_config(request: Request) -> Response:
    """Public: the tracker asks for the active experiments with the project's write key."""
    token = request.query_params.get("token")
    if not token:
        raise ValidationError(
            "token is required: the project's write key (aat_…)", code="MISSING_FIELDS"
        )
    project = services(request).projects.project_by_write_key(token)
    if project is None:
        raise AuthError("invalid or revoked project token", code="INVALID_TOKEN")
    config = await in_thread(experiments(request).tracker_config, project)
    return json_response(config)
