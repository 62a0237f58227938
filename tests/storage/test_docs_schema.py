"""docs/self-hosting.md shows the ClickHouse schema the store really creates."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from agentlytics.storage.clickhouse.schema import MIGRATIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "self-hosting.md"


def squash(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def test_the_single_server_ddl_is_the_migrations_sql() -> None:
    text = squash(DOC.read_text())
    for statement in MIGRATIONS[0]:
        assert squash(textwrap.dedent(statement)) + ";" in text


def test_the_cluster_tables_have_the_same_columns() -> None:
    text = DOC.read_text()
    events = squash(textwrap.dedent(MIGRATIONS[0][0]))
    columns = events[events.index("(") + 1 : events.index(") ENGINE")]
    local = squash(text[text.index("CREATE TABLE agentlytics.events_local") :])
    assert local[local.index("(") + 1 :].startswith(columns)
