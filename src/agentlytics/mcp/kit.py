"""What every tool module uses: the registration decorator, the caller and their projects.

A tool is a plain typed function. Its type hints are its input schema, its docstring is the
description an agent reads, and it returns plain data. :meth:`Toolkit.tool` adds the rest:
the annotations for its kind, the scope check for writes, a worker thread for blocking
queries, ``json.dumps(result, indent=2)`` as the text result, and core errors turned into
tool errors whose message says what to fix.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import anyio.to_thread
import msgspec
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations
from pydantic import ConfigDict

from agentlytics.app import Services
from agentlytics.errors import AgentlyticsError, ValidationError
from agentlytics.mcp.auth import current_principal
from agentlytics.model.project import Project
from agentlytics.projects.service import Principal
from agentlytics.query.engine import QueryEngine

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
Kind = Literal["read", "write", "update", "delete"]

ANNOTATIONS: dict[Kind, ToolAnnotations] = {
    "read": ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    "write": ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
    ),
    "update": ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    ),
    "delete": ToolAnnotations(
        read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
    ),
}


#: the HTTP API's pointers in core messages, as the tools that answer the same question
_HINTS = {
    "GET /projects lists them": "list_projects lists them",
    "GET /properties lists the keys": "the properties tool lists them",
    "GET /funnels lists them": "list_funnels lists them",
    "GET /experiments?project=… lists them": "experiments_list lists them",
}


def explain(exc: AgentlyticsError) -> str:
    message = exc.message
    for http, tool in _HINTS.items():
        message = message.replace(http, tool)
    return f"{exc.code}: {message}"


def convert(data: dict[str, Any], kind: type[T]) -> T:
    """Arguments as a core model, dropping the ones not given (None).

    Raises:
        ValidationError: INVALID_FIELD, naming the field.
    """
    try:
        return msgspec.convert({k: v for k, v in data.items() if v is not None}, kind)
    except msgspec.ValidationError as exc:
        raise ValidationError(str(exc), code="INVALID_FIELD") from None


class Toolkit:
    """Collects the tools of one server, bound to one set of services."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.tools: list[Tool] = []

    @property
    def engine(self) -> QueryEngine:
        return self.services.query

    def principal(self) -> Principal:
        return current_principal()

    def project(self, ref: str) -> Project:
        """One of the caller's projects, by name (case-insensitive) or id."""
        return self.services.projects.get_project(self.principal().account, ref)

    def projects(self) -> list[Project]:
        return self.services.projects.list_projects(self.principal().account)

    def tool(
        self,
        kind: Kind = "read",
        *,
        title: str,
        idempotent: bool | None = None,
        schema: dict[str, Any] | None = None,
    ) -> Callable[[F], F]:
        """Register ``fn`` as a tool named after it. ``schema`` replaces the input schema
        derived from its signature (for a tool whose arguments are a published model)."""
        annotations = ANNOTATIONS[kind]
        if idempotent is not None:
            annotations = annotations.model_copy(update={"idempotent_hint": idempotent})

        def register(fn: F) -> F:
            is_async = inspect.iscoroutinefunction(fn)

            @functools.wraps(fn)
            async def run(**kwargs: Any) -> str:
                try:
                    if kind != "read":
                        self.principal().require_full()
                    if is_async:
                        result = await fn(**kwargs)
                    else:
                        result = await anyio.to_thread.run_sync(functools.partial(fn, **kwargs))
                except AgentlyticsError as exc:
                    raise ToolError(explain(exc)) from None
                return json.dumps(result, indent=2, default=str)

            tool = Tool.from_function(
                run,
                name=fn.__name__,
                title=title,
                description=inspect.cleandoc(fn.__doc__ or ""),
                annotations=annotations.model_copy(update={"title": title}),
                structured_output=False,
            )
            # an argument the tool does not take is an error, not silently dropped
            loose = tool.fn_metadata.arg_model
            tool.fn_metadata.arg_model = type(
                loose.__name__,
                (loose,),
                {
                    "model_config": ConfigDict(**loose.model_config, extra="forbid"),
                    "__module__": loose.__module__,
                },
            )
            tool.parameters = schema or tool.fn_metadata.arg_model.model_json_schema(by_alias=True)
            self.tools.append(tool)
            return fn

        return register
