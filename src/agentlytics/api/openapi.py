"""``GET /openapi.json``, generated from the route table so it cannot drift."""

from __future__ import annotations

import re
from typing import Any

from agentlytics import __version__
from agentlytics.api.table import Endpoint

_AUTH: dict[str, list[dict[str, list[str]]]] = {
    "api_key": [{"ApiKeyHeader": []}, {"ApiKeyQuery": []}, {"Bearer": []}],
    "write_key": [],
    "none": [],
}


def build_openapi(endpoints: list[Endpoint]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        if not ep.documented:
            continue
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)(?::\w+)?}", ep.path)
        ]
        params += [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": text,
            }
            for name, text in ep.query.items()
        ]
        operation: dict[str, Any] = {
            "summary": ep.summary,
            "tags": [ep.tag],
            "operationId": ep.handler.__name__ + "_" + ep.method.lower(),
            "security": _AUTH[ep.auth],
            "responses": {
                str(ep.status): {"description": "success"},
                "4XX": {
                    "description": "an error that says what to fix",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
        if ep.read:
            operation["responses"]["429"] = {
                "description": "the account is over read_rate_limit reads this minute; "
                "Retry-After says when to retry",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        if ep.auth == "write_key":
            operation["description"] = "Authenticated by the project write key in the body."
        if params:
            operation["parameters"] = params
        if ep.method in ("POST", "PUT", "PATCH"):
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ep.body or {"type": "object"}}},
            }
        path = re.sub(r"{(\w+):\w+}", r"{\1}", ep.path)
        paths.setdefault(path, {})[ep.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "agentlytics",
            "version": __version__,
            "description": "Self-hosted, agent-first analytics. Native API compatible with the "
            "Agent Analytics API; Convalytics and Agnost wire formats also accepted.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "ApiKeyQuery": {"type": "apiKey", "in": "query", "name": "key"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
    }
