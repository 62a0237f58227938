"""The native format: the Agent Analytics ``/track`` body plus our extension fields
(``docs/http-api.md``)."""

from __future__ import annotations

from typing import Any

from agentlytics.ingest.draft import Draft

MCP_FIELDS = (
    "mcp_session_id",
    "primitive_type",
    "primitive_name",
    "latency_ms",
    "success",
    "error",
    "args",
    "result",
    "client",
)
_MCP_FIELDS = frozenset(MCP_FIELDS)


def token_of(body: dict[str, Any]) -> Any:
    return body.get("token") or body.get("writeKey")


def draft(body: dict[str, Any], *, source: str) -> Draft:
    """One native event body as a Draft (unchecked: the pipeline validates)."""
    # most events are not MCP calls: one pass over the body's keys tells
    mcp = {} if _MCP_FIELDS.isdisjoint(body) else {k: body[k] for k in MCP_FIELDS if k in body}
    props = body.get("properties")
    return Draft(
        name=body.get("event"),
        properties={} if props is None else props,
        timestamp=body.get("timestamp"),
        event_id=body.get("id"),
        user_id=body.get("user_id"),
        anonymous_id=body.get("anonymous_id"),
        session_id=body.get("session_id"),
        user_email=body.get("user_email"),
        user_name=body.get("user_name"),
        source="mcp" if mcp else source,
        page_origin=body.get("page_origin"),
        mcp=mcp,
    )


def looks_like_browser(headers: dict[str, str] | Any) -> bool:
    """Browser events arrive with an Origin or as a beacon (text/plain)."""
    return bool(headers.get("origin")) or headers.get("content-type", "").startswith("text/plain")
