"""The shape of one row of the route table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    auth: Literal["api_key", "write_key", "none"] = "api_key"
    status: int = 200
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    documented: bool = True
    #: an analytics read: charged to the key's account under ``read_rate_limit``
    read: bool = False
