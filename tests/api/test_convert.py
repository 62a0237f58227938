"""Typed bodies: an error names the field, and a value outside a fixed set lists the set."""

from __future__ import annotations

from typing import Literal

import msgspec
import pytest

from agentlytics.api.common import choices, convert
from agentlytics.errors import ValidationError


class Step(msgspec.Struct, rename={"kind_": "kind"}):
    kind_: Literal["pageview", "event"] | None = None


class Body(msgspec.Struct):
    steps: list[Step]
    order: Literal["asc", "desc"] = "desc"
    nested: Step | None = None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.order", ("asc", "desc")),
        ("$.steps[3].kind", ("event", "pageview")),  # through a list, by the encoded name
        ("$.nested.kind", ("event", "pageview")),  # through an optional struct
        ("$.steps", None),
        ("$.steps[0].kind_", None),  # the Python name is not what the body says
        ("$.missing.kind", None),
    ],
)
def test_choices_follow_the_path_msgspec_reports(
    path: str, expected: tuple[str, ...] | None
) -> None:
    assert choices(Body, path) == expected


def test_an_enum_error_lists_the_valid_values() -> None:
    with pytest.raises(ValidationError) as err:
        convert({"steps": [{"kind": "click"}]}, Body)
    assert err.value.code == "INVALID_FIELD"
    assert str(err.value.message).endswith("at `$.steps[0].kind`; valid: event, pageview")
    with pytest.raises(ValidationError) as err:
        convert({}, Body)
    assert err.value.code == "MISSING_FIELDS"
