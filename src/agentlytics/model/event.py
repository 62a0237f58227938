"""The one event record every surface maps its wire format onto.

Column names here are the storage column names in every backend (``EVENT_COLUMNS``).
"""

from __future__ import annotations

from typing import Literal

import msgspec

Source = Literal["browser", "server", "mcp"]
PrimitiveType = Literal["tool", "resource", "prompt"]

#: Events the bounce rule treats as passive (a session with only these is a bounce).
PASSIVE_EVENTS = frozenset(
    {
        "page_view",
        "$impression",
        "$scroll_depth",
        "$error",
        "$time_on_page",
        "$performance",
        "$web_vitals",
        # sent by our tracker on its own, never by a user's action
        "$heartbeat",
        "$experiment_exposure",
    }
)
PAGE_VIEW = "page_view"
MCP_SESSION = "$mcp_session"
MCP_CALL = "$mcp_call"
EXPERIMENT_EXPOSURE = "$experiment_exposure"


class Event(msgspec.Struct, kw_only=True):
    """One stored event. Times are unix milliseconds, UTC."""

    project_id: str
    event_id: str
    name: str
    timestamp: int
    received_at: int
    user_id: str | None = None
    anonymous_id: str | None = None
    session_id: str | None = None
    user_email: str | None = None
    user_name: str | None = None
    url: str | None = None
    host: str | None = None
    path: str | None = None
    title: str | None = None
    referrer: str | None = None
    referrer_host: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    country: str | None = None
    browser: str | None = None
    os: str | None = None
    device: str | None = None
    language: str | None = None
    screen: str | None = None
    timezone: str | None = None
    environment: str = "production"
    source: str = "server"
    mcp_session_id: str | None = None
    primitive_type: str | None = None
    primitive_name: str | None = None
    latency_ms: float | None = None
    success: bool | None = None
    error: str | None = None
    args: str | None = None
    result: str | None = None
    client: str | None = None
    properties: str = "{}"  # JSON object text


EVENT_COLUMNS: tuple[str, ...] = Event.__struct_fields__


class BotHit(msgspec.Struct, kw_only=True):
    """An event dropped as automated traffic, kept only as a count for /bot-traffic."""

    project_id: str
    timestamp: int
    category: str
    actor: str
    name: str


class Identity(msgspec.Struct, kw_only=True):
    """``previous_id`` (an anonymous or old id) resolves to ``user_id`` in every query."""

    project_id: str
    previous_id: str
    user_id: str
    created_at: int
