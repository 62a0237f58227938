"""Events handed to DuckDB as lists, for the summaries of late events: a subquery that the
same statements as for stored events read like a table, so that values are computed by the
engine exactly as for the others."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from agentlytics.model.event import Event

_EPOCH = datetime(1970, 1, 1)


def events_source(events: Sequence[Event], fields: Sequence[str]) -> tuple[str, list[list[Any]]]:
    """A subquery with the columns ``fields`` of ``events`` (``timestamp`` as a naive UTC
    timestamp, the others as text), and its parameters: a list per column."""
    columns = [
        [_EPOCH + timedelta(milliseconds=e.timestamp) for e in events]
        if field == "timestamp"
        else [getattr(e, field) for e in events]
        for field in fields
    ]
    select = ", ".join(
        f"unnest(?::{'TIMESTAMP' if field == 'timestamp' else 'VARCHAR'}[]) AS {field}"
        for field in fields
    )
    return f"(SELECT {select})", columns
