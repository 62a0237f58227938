"""What a surface hands the pipeline: one event as received, not yet checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec


class Draft(msgspec.Struct):
    """An incoming event. Surfaces fill what their wire format carries; steps fill the rest.

    A msgspec struct rather than a dataclass: a batch makes one per event, and a struct's
    ``__init__`` (in C) costs a fifth of a dataclass's."""

    name: Any
    properties: Any = msgspec.field(default_factory=dict)
    timestamp: Any = None
    event_id: Any = None
    user_id: Any = None
    anonymous_id: Any = None
    session_id: Any = None
    user_email: Any = None
    user_name: Any = None
    source: str = "server"
    # Convalytics environment hints
    deployment_name: str | None = None
    page_origin: str | None = None
    # MCP call fields
    mcp: dict[str, Any] = msgspec.field(default_factory=dict)
    # extra columns a surface sets directly (e.g. "client" for an MCP session)
    columns: dict[str, Any] = msgspec.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The request an event arrived in. ``client_ip`` is used for geo and the visitor hash,
    then dropped: it is never stored."""

    headers: Mapping[str, str]
    client_ip: str | None
    received_at: int

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("user-agent")

    @property
    def origin(self) -> str | None:
        return self.headers.get("origin")
