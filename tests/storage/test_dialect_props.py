"""Property reads (``Dialect.prop``, ``Dialect.may_have_key``) answer the same on DuckDB and
ClickHouse (chDB): the string for a string, raw JSON text for anything else, NULL for a
missing key or a JSON null."""

from __future__ import annotations

import msgspec
import pytest

from agentlytics.model.event import Event
from agentlytics.query.dialect import dialect_for
from agentlytics.storage.ports import EventStore

pytestmark = pytest.mark.anyio

#: properties as the ingest pipeline encodes them, and what reading "plan" must answer
CASES: list[tuple[dict[str, object], str | None]] = [
    ({"plan": "pro"}, "pro"),
    ({"plan": ""}, ""),
    ({"plan": 'a"b\\c é\n😀'}, 'a"b\\c é\n😀'),
    ({"plan": 1.5}, "1.5"),
    ({"plan": -3}, "-3"),
    ({"plan": True}, "true"),
    ({"plan": None}, None),
    ({"plan": {"tier": [1, "x"]}}, '{"tier":[1,"x"]}'),
    ({"plan": [1, "a"]}, '[1,"a"]'),
    ({"other": "plan"}, None),
    ({"nested": {"plan": "no"}}, None),
    ({}, None),
]


async def test_a_property_reads_the_same_on_every_engine(events: EventStore) -> None:
    await events.append(
        [
            Event(
                project_id="p1",
                event_id=f"e{i:02d}",
                name="page_view",
                timestamp=1_700_000_000_000 + i,
                received_at=1_700_000_000_000 + i,
                properties=msgspec.json.encode(props).decode(),
            )
            for i, (props, _) in enumerate(CASES)
        ]
    )
    F = dialect_for(events.dialect)
    assert F.may_have_key is not None
    rows = events.query(
        f"SELECT event_id, {F.prop('properties', 'plan')} AS plan, "
        f"{F.may_have_key('properties', 'plan')} AS maybe FROM events ORDER BY event_id"
    ).rows
    assert [row[1] for row in rows] == [expected for _, expected in CASES]
    # the prefilter never drops an event that has the key
    for row, (props, _) in zip(rows, CASES, strict=True):
        assert bool(row[2]) or "plan" not in props
