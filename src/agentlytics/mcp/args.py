"""Argument types shared by the tools: each a type hint with the description an agent reads."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

ProjectRef = Annotated[
    str, Field(description="Project name (case-insensitive) or id; list_projects lists them.")
]
#: Convalytics tools take unix milliseconds
SinceMs = Annotated[int | None, Field(description="Start, unix ms. Default: 7 days ago.")]
UntilMs = Annotated[int | None, Field(description="End, unix ms. Default: now.")]
#: the native tools take what the HTTP API takes
Since = Annotated[
    str | None,
    Field(
        description="Start: a shorthand (7d, 24h, 12w), YYYY-MM-DD, an ISO datetime or unix "
        "ms. Default: 7 days ago."
    ),
]
Until = Annotated[
    str | None,
    Field(description="End, in the same forms (a date includes that whole day). Default: now."),
]
User = Annotated[
    str | None,
    Field(
        description="Only this person: a userEmail (case-insensitive) or a visitor/user id "
        "(exact). Default: everyone."
    ),
]
