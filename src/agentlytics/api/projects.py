"""Projects, account and API-key routes."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from agentlytics.api.common import in_thread, json_response, principal, read_object, services
from agentlytics.errors import ValidationError
from agentlytics.model.project import ApiKey, Project


def base_url(request: Request) -> str:
    configured = services(request).settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def snippet(base: str, project: Project) -> str:
    return (
        f'<script defer src="{base}/tracker.js" data-project="{project.name}" '
        f'data-token="{project.write_key}"></script>'
    )


def project_json(project: Project, *, usage_today: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": project.id,
        "name": project.name,
        "project_token": project.write_key,
        "allowed_origins": project.allowed_origins,
        "timezone": project.timezone,
        "created_at": project.created_at,
        "has_api_key": True,
    }
    if usage_today is not None:
        data["usage_today"] = usage_today
    return data


async def list_projects(request: Request) -> Response:
    who = principal(request)
    projects = services(request).projects.list_projects(who.account)
    return json_response({"projects": [project_json(p) for p in projects]})


async def create_project(request: Request) -> Response:
    who = principal(request)
    who.require_full()
    body = await read_object(request)
    if "name" not in body:
        raise ValidationError("name is required", code="MISSING_FIELDS")
    project, created = services(request).projects.create_project(
        who.account,
        body["name"],
        allowed_origins=body.get("allowed_origins", "*"),
        timezone=body.get("timezone", "UTC"),
        source_scan_id=body.get("source_scan_id"),
    )
    if not created:
        return json_response(
            {
                "id": project.id,
                "name": project.name,
                "project_token": project.write_key,
                "existing": True,
            },
            200,
        )
    base = base_url(request)
    return json_response(
        {
            "id": project.id,
            "name": project.name,
            "project_token": project.write_key,
            "allowed_origins": project.allowed_origins,
            "source_scan_id": project.source_scan_id,
            "timezone": project.timezone,
            "snippet": snippet(base, project),
            "api_example": (
                f"curl -X POST {base}/track -H 'Content-Type: application/json' "
                f'-d \'{{"token":"{project.write_key}","event":"page_view",'
                f'"properties":{{"path":"/"}}}}\''
            ),
        },
        201,
    )


async def get_project(request: Request) -> Response:
    who = principal(request)
    svc = services(request)
    project = svc.projects.get_project(who.account, request.path_params["id"])
    # events since midnight in the project's zone, through the query engine like every count
    today = svc.query.period(project, "today", None)
    totals = await in_thread(svc.query.one, project, today, ["event_count"])
    usage = int(totals["event_count"] or 0)
    data = project_json(project, usage_today=usage)
    data["snippet"] = snippet(base_url(request), project)
    data["project_context"] = svc.projects.context(project)
    return json_response(data)


async def update_project(request: Request) -> Response:
    who = principal(request)
    who.require_full()
    body = await read_object(request)
    project = await in_thread(
        services(request).projects.update_project, who.account, request.path_params["id"], body
    )
    return json_response(project_json(project))


async def delete_project(request: Request) -> Response:
    who = principal(request)
    who.require_full()
    project = services(request).projects.delete_project(who.account, request.path_params["id"])
    return json_response({"ok": True, "id": project.id, "deleted": True})


async def account(request: Request) -> Response:
    who = principal(request)
    return json_response(services(request).projects.account_info(who.account))


async def revoke_key(request: Request) -> Response:
    who = principal(request)
    new_key = services(request).projects.rotate_api_key(who)
    return json_response({"ok": True, "api_key": new_key})


def key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "scope": key.scope,
        "prefix": key.prefix,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


async def list_keys(request: Request) -> Response:
    who = principal(request)
    keys = services(request).projects.list_api_keys(who.account)
    return json_response({"keys": [key_json(k) for k in keys]})


async def create_key(request: Request) -> Response:
    who = principal(request)
    who.require_full()
    body = await read_object(request)
    key, raw = services(request).projects.create_api_key(
        who.account, str(body.get("name") or "api key"), str(body.get("scope") or "read")
    )
    return json_response({**key_json(key), "api_key": raw}, 201)


async def delete_key(request: Request) -> Response:
    who = principal(request)
    who.require_full()
    services(request).projects.revoke_api_key(who.account, request.path_params["key_id"])
    return json_response({"ok": True})
