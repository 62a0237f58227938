"""The Agnost wire format (``/api/v1/capture-session`` and ``/api/v1/capture-event``).

A session becomes a ``$mcp_session`` event and each call a ``$mcp_call`` event; the session's
client and user are remembered (``McpSessions``) so every call carries them too.
"""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from typing import Any

import msgspec

from agentlytics.errors import ValidationError
from agentlytics.ingest.draft import Draft
from agentlytics.model.event import MCP_CALL, MCP_SESSION
from agentlytics.storage.ports import MetaStore

PRIMITIVE_TYPES = ("tool", "resource", "prompt")


class SessionInfo(msgspec.Struct):
    client: str | None = None
    user_id: str | None = None
    user_email: str | None = None
    user_name: str | None = None


def check_uuid(value: Any, name: str = "session_id") -> str:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise ValidationError(f"{name} must be a UUID", code="invalid_uuid") from None


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str)


def session_draft(body: dict[str, Any]) -> tuple[str, SessionInfo, Draft]:
    """Check a capture-session body; the session id, what to remember, and its event."""
    session_id = check_uuid(body.get("session_id"))
    client = body.get("client_config")
    if client is not None and not isinstance(client, str):
        raise ValidationError("client_config must be a string", code="invalid_body")
    tools = body.get("tools") or []
    if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
        raise ValidationError("tools must be an array of tool names", code="invalid_body")
    user = body.get("user_data") or {}
    if not isinstance(user, dict):
        raise ValidationError("user_data must be an object", code="invalid_body")
    info = SessionInfo(
        client=client or None,
        user_id=_str(user.get("userId") or user.get("user_id")),
        user_email=_str(user.get("email")),
        user_name=_str(user.get("name")),
    )
    draft = Draft(
        name=MCP_SESSION,
        properties={
            "tools": tools,
            "user_data": user,
            "connection_type": body.get("connection_type") or "",
        },
        event_id=f"mcp-session:{session_id}",
        user_id=info.user_id,
        anonymous_id=session_id,
        session_id=session_id,
        user_email=info.user_email,
        user_name=info.user_name,
        source="mcp",
        mcp={"mcp_session_id": session_id, "client": info.client},
    )
    return session_id, info, draft


def event_draft(body: dict[str, Any], session: SessionInfo) -> Draft:
    """A capture-event body (session already checked) as a ``$mcp_call`` draft."""
    session_id = check_uuid(body.get("session_id"))
    missing = [
        f for f in ("primitive_type", "primitive_name", "latency", "success") if body.get(f) is None
    ]
    if missing:
        raise ValidationError(f"missing required fields: {', '.join(missing)}", code="invalid_body")
    if body["primitive_type"] not in PRIMITIVE_TYPES:
        raise ValidationError(
            "primitive_type must be 'tool', 'resource' or 'prompt'", code="invalid_body"
        )
    latency = body["latency"]
    if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
        raise ValidationError("latency must be a number of milliseconds", code="invalid_body")
    if not isinstance(body["success"], bool):
        raise ValidationError("success must be true or false", code="invalid_body")
    metadata = body.get("metadata")
    return Draft(
        name=MCP_CALL,
        properties={"metadata": metadata} if isinstance(metadata, dict) else {},
        user_id=session.user_id,
        anonymous_id=session_id,
        session_id=session_id,
        user_email=session.user_email,
        user_name=session.user_name,
        source="mcp",
        mcp={
            "mcp_session_id": session_id,
            "primitive_type": body["primitive_type"],
            "primitive_name": str(body["primitive_name"]),
            "latency_ms": float(latency),
            "success": body["success"],
            "error": _str(body.get("error")),
            "args": _json_text(body.get("args")),
            "result": _json_text(body.get("result")),
            "client": session.client,
        },
    )


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


class McpSessions:
    """Known MCP sessions per project (in the metadata store, with a small memory cache)."""

    def __init__(self, meta: MetaStore, cache_size: int = 10_000) -> None:
        self.meta = meta
        self.cache_size = cache_size
        self._cache: OrderedDict[str, SessionInfo] = OrderedDict()

    def remember(self, project_id: str, session_id: str, info: SessionInfo) -> None:
        key = f"{project_id}:{session_id}"
        self.meta.put_doc("mcp_session", key, project_id, msgspec.to_builtins(info))
        self._put(key, info)

    def get(self, project_id: str, session_id: str) -> SessionInfo | None:
        key = f"{project_id}:{session_id}"
        info = self._cache.get(key)
        if info is None:
            data = self.meta.get_doc("mcp_session", key)
            if data is None:
                return None
            info = msgspec.convert(data, SessionInfo)
            self._put(key, info)
        return info

    def _put(self, key: str, info: SessionInfo) -> None:
        self._cache[key] = info
        self._cache.move_to_end(key)
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
