"""The native format: the Agent Analytics ``/track`` body plus our extension fields
(``docs/http-api.md``)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from agentlytics.ingest.draft import Draft
from agentlytics.ingest.pipeline import MAX_EVENT_ID, MAX_ID, MAX_NAME, MCP_FIELDS, mcp_row

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


class NativeEvent(msgspec.Struct, gc=False):
    """One event of a ``/track/batch`` body, decoded straight from JSON (``decode_batch``).

    ``gc=False``: not tracked by the garbage collector (decoding a batch took ~20% less),
    which is safe because what JSON decodes into never refers back to the event, so no
    reference cycle can go through it.

    The types are those of a well-formed event: a body with anything else (an event that is
    not an object, a number where an id goes, a name or an id longer than the pipeline
    allows, …) does not decode, and goes through ``draft`` and the per-event pipeline
    instead, which answers each event on its own. (The lengths checked in the decoder cost
    nothing per event; checked afterwards in Python, ~0.3 µs.)
    Unknown keys are ignored there as here. An MCP field missing is ``UNSET`` (present,
    even as null, it makes the event an MCP call, as in ``draft``)."""

    event: Annotated[str, Meta(max_length=MAX_NAME)]
    properties: dict[str, Any] | None = None
    timestamp: int | float | str | None = None
    id: Annotated[str, Meta(max_length=MAX_EVENT_ID)] | None = None
    user_id: Annotated[str, Meta(max_length=MAX_ID)] | None = None
    anonymous_id: Annotated[str, Meta(max_length=MAX_ID)] | None = None
    session_id: Annotated[str, Meta(max_length=MAX_ID)] | None = None
    user_email: Any = None
    user_name: Any = None
    page_origin: str | None = None
    token: str | None = None
    writeKey: str | None = None
    mcp_session_id: Any | UnsetType = UNSET
    primitive_type: Any | UnsetType = UNSET
    primitive_name: Any | UnsetType = UNSET
    latency_ms: Any | UnsetType = UNSET
    success: Any | UnsetType = UNSET
    error: Any | UnsetType = UNSET
    args: Any | UnsetType = UNSET
    result: Any | UnsetType = UNSET
    client: Any | UnsetType = UNSET

    def mcp_row(self) -> tuple[Any, ...] | None:
        """The MCP columns (``pipeline.mcp_row``) of an event that is an MCP call (a field
        present, even as null, makes it one, as in ``draft``); None for one that is not.
        Raises Invalid."""
        u = UNSET
        session_id, kind, name = self.mcp_session_id, self.primitive_type, self.primitive_name
        latency, success, error = self.latency_ms, self.success, self.error
        args, result, client = self.args, self.result, self.client
        if (  # most events: no call
            session_id is u
            and kind is u
            and name is u
            and latency is u
            and success is u
            and error is u
            and args is u
            and result is u
            and client is u
        ):
            return None
        return mcp_row(
            None if session_id is u else session_id,
            None if kind is u else kind,
            None if name is u else name,
            None if latency is u else latency,
            None if success is u else success,
            None if error is u else error,
            None if args is u else args,
            None if result is u else result,
            None if client is u else client,
        )


class NativeBatch(msgspec.Struct):
    events: list[NativeEvent]
    token: str | None = None
    writeKey: str | None = None


_decode_batch = msgspec.json.Decoder(NativeBatch).decode


def decode_batch(body: bytes) -> NativeBatch | None:
    """A ``/track/batch`` body of well-formed events, or None for anything else (which the
    generic path decodes and answers, with its per-event errors)."""
    try:
        return _decode_batch(body)
    except msgspec.DecodeError:  # ValidationError is a DecodeError
        return None


def looks_like_browser(headers: dict[str, str] | Any) -> bool:
    """Browser events arrive with an Origin or as a beacon (text/plain)."""
    return bool(headers.get("origin")) or headers.get("content-type", "").startswith("text/plain")
