"""The Convalytics wire format (``POST /ingest``, ``/ingest/batch``; contracts.md A1).

Field rules, as Convalytics applies them:

* required: ``writeKey`` (our extension: ``token`` too), ``name``, ``userId`` and
  ``sessionId`` (strings) and ``timestamp`` (a number, unix ms);
* ``props`` keeps only string, number and boolean values under keys that are printable
  ASCII without spaces and do not start with ``$`` or ``_``; anything else is dropped
  silently;
* ``page_view`` takes ``path`` and ``referrer`` (≤ 500), ``title`` (≤ 200) and
  ``utm_source|medium|campaign`` from the props;
* ``userEmail`` and ``userName`` are kept when they are strings, cut to 200;
* ``deploymentName`` and ``pageOrigin`` decide the environment (the pipeline's
  ``put_environment``); an event that carries a ``pageOrigin`` comes from a browser;
* ``id`` (our extension) is an idempotency id: a retry is stored once.

Nothing here does I/O: this module only turns bodies into pipeline drafts.
"""

from __future__ import annotations

import re
from typing import Any

from agentlytics.ingest.draft import Draft
from agentlytics.model.event import PAGE_VIEW

MISSING_FIELDS = "Missing required fields: writeKey, name, userId, sessionId, timestamp"
MAX_BATCH = 100
MAX_IDENTITY = 200
_PAGE_VIEW_FIELDS = (("path", 500), ("referrer", 500), ("title", 200))
_PAGE_VIEW_UTM = ("utm_source", "utm_medium", "utm_campaign")
_PROP_KEY = re.compile(r"^[\x21-\x7E]+$")

Prop = str | int | float | bool


def write_key_of(body: dict[str, Any]) -> Any:
    """The project's write key: ``writeKey``, or ``token`` as the native API names it."""
    key = body.get("writeKey")
    return key if key is not None else body.get("token")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def has_required_fields(body: dict[str, Any]) -> bool:
    """The single-event check: every required field present with its JSON type."""
    return (
        isinstance(write_key_of(body), str)
        and all(isinstance(body.get(f), str) for f in ("name", "userId", "sessionId"))
        and _is_number(body.get("timestamp"))
    )


def event_error(event: Any) -> str | None:
    """Why one batch event is refused, in Convalytics' words; None when it is well formed."""
    if not isinstance(event, dict):
        return "event must be an object"
    for name in ("name", "userId", "sessionId"):
        value = event.get(name)
        if not isinstance(value, str) or not value:
            return f"missing required field: {name}"
    if not _is_number(event.get("timestamp")):
        return "missing required field: timestamp (number)"
    return None


def clean_props(props: Any) -> dict[str, Prop]:
    """The props Convalytics keeps; everything else is dropped without an error."""
    if not isinstance(props, dict):
        return {}
    return {
        key: value
        for key, value in props.items()
        if isinstance(key, str)
        and _PROP_KEY.match(key)
        and key[0] not in "$_"
        and isinstance(value, str | int | float | bool)
    }


def _identity(value: Any) -> str | None:
    return value[:MAX_IDENTITY] if isinstance(value, str) and value else None


def _hint(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def is_page_view(event: dict[str, Any]) -> bool:
    return event.get("name") == PAGE_VIEW


def is_browser(event: dict[str, Any]) -> bool:
    """Sent by a page (``pageOrigin``) and not by a server deployment (``deploymentName``)."""
    return _hint(event.get("pageOrigin")) is not None and not event.get("deploymentName")


def draft(event: dict[str, Any]) -> Draft:
    """One well-formed Convalytics event as a pipeline draft."""
    props = clean_props(event.get("props"))
    columns: dict[str, Any] = {}
    if is_page_view(event):
        for key, limit in _PAGE_VIEW_FIELDS:
            value = props.get(key)
            if isinstance(value, str) and value:
                columns[key] = value[:limit]
        for key in _PAGE_VIEW_UTM:
            value = props.get(key)
            if isinstance(value, str) and value:
                columns[key] = value
    page_origin = _hint(event.get("pageOrigin"))
    return Draft(
        name=event.get("name"),
        properties=props,
        timestamp=event.get("timestamp"),
        event_id=event.get("id"),
        user_id=event.get("userId"),
        session_id=event.get("sessionId"),
        user_email=_identity(event.get("userEmail")),
        user_name=_identity(event.get("userName")),
        source="browser" if page_origin else "server",
        deployment_name=_hint(event.get("deploymentName")),
        page_origin=page_origin,
        columns=columns,
    )
