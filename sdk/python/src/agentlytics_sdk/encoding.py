"""JSON encoding of events, done on the consumer thread so that `track()` stays cheap."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import uuid
from collections.abc import Mapping
from typing import Any

MAX_TEXT_BYTES = 10 * 1024
"""Cap on an MCP `args` / `result` string (UTF-8 bytes)."""


class JsonText:
    """A value sent as a JSON *string* (MCP `args`/`result`), encoded and truncated lazily.

    Wrapping costs one small object on the caller's thread; the encoding itself runs on the
    consumer thread when the batch is built.
    """

    __slots__ = ("drop", "limit", "value")

    def __init__(
        self, value: object, limit: int = MAX_TEXT_BYTES, drop: frozenset[str] = frozenset()
    ) -> None:
        self.value = value
        self.limit = limit
        self.drop = drop

    def render(self) -> str:
        """The value as JSON, cut to at most `limit` UTF-8 bytes on a character boundary.

        Top-level keys in `drop` are left out when the value is a mapping (or a model).
        """
        value = self.value
        if self.drop:
            if not isinstance(value, Mapping) and callable(getattr(value, "model_dump", None)):
                value = _default(value)
            if isinstance(value, Mapping):
                value = {k: v for k, v in value.items() if k not in self.drop}
        try:
            text = _TEXT.encode(value)
        except (TypeError, ValueError):
            text = _TEXT.encode(repr(self.value))
        raw = text.encode()
        if len(raw) <= self.limit:
            return text
        return raw[: self.limit].decode(errors="ignore")


def _default(o: object) -> object:
    """Best effort for values `json` does not know; never raises for ordinary objects."""
    if isinstance(o, JsonText):
        return o.render()
    if isinstance(o, dt.datetime | dt.date | dt.time):
        return o.isoformat()
    if isinstance(o, uuid.UUID | decimal.Decimal):
        return str(o)
    if isinstance(o, enum.Enum):
        return o.value
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    if isinstance(o, bytes):
        return o.decode(errors="replace")
    if isinstance(o, Mapping):
        return dict(o)
    model_dump = getattr(o, "model_dump", None)
    if callable(model_dump):
        # pydantic models, e.g. the mcp SDK's results.
        return model_dump(mode="json", by_alias=True, exclude_none=True)
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    return str(o)


# Built once: json.dumps() with options constructs a new encoder on every call.
_EVENT = json.JSONEncoder(
    default=_default, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_TEXT = json.JSONEncoder(default=_default, separators=(",", ":"), ensure_ascii=False)


def encode(obj: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON.

    Raises:
        ValueError: for NaN/Infinity or a circular structure (the caller drops the event).
    """
    return _EVENT.encode(obj).encode()
