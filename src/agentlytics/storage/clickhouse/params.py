"""DuckDB-style ``?`` placeholders → ClickHouse server-side parameters.

The port's ``query(sql, params)`` takes positional ``?`` placeholders. Each becomes a typed
``{pN:Type}`` parameter whose value travels beside the SQL (ClickHouse substitutes it after
parsing), so no value is ever spliced into the statement text. A ``?`` inside a string
literal, a quoted identifier or a comment is left alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

_QUOTES = {"'": "'", '"': '"', "`": "`"}


def ch_type(value: Any) -> str:
    """The ClickHouse type a Python parameter value binds as."""
    if value is None:
        return "Nullable(String)"
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64" if -(2**63) <= value < 2**63 else "Int128"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, str):
        return "String"
    if isinstance(value, datetime):
        return "DateTime64(3, 'UTC')"
    if isinstance(value, date):
        return "Date"
    if isinstance(value, uuid.UUID):
        return "UUID"
    if isinstance(value, list | tuple):
        items = [v for v in value if v is not None]
        inner = ch_type(items[0]) if items else "String"
        if len(items) < len(value) and not inner.startswith("Nullable("):
            inner = f"Nullable({inner})"
        return f"Array({inner})"
    raise TypeError(f"cannot bind a {type(value).__name__} as a ClickHouse parameter")


def _plain(value: Any) -> Any:
    # naive datetimes are UTC already (as the DuckDB store reads them); aware ones are moved
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _skip(sql: str, i: int) -> int:
    """The index after the literal, quoted name or comment starting at ``i`` (else ``i``)."""
    char = sql[i]
    if char in _QUOTES:
        j = i + 1
        while j < len(sql):
            if sql[j] == "\\":
                j += 2
                continue
            if sql[j] == char:
                if j + 1 < len(sql) and sql[j + 1] == char:  # doubled quote
                    j += 2
                    continue
                return j + 1
            j += 1
        return len(sql)
    if sql.startswith("--", i):
        end = sql.find("\n", i)
        return len(sql) if end < 0 else end + 1
    if sql.startswith("/*", i):
        end = sql.find("*/", i + 2)
        return len(sql) if end < 0 else end + 2
    return i


def bind(sql: str, params: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """SQL with ``{pN:Type}`` for each ``?``, and the values by name.

    Raises:
        ValueError: the number of placeholders and of values differ.
    """
    out: list[str] = []
    values: dict[str, Any] = {}
    i = start = 0
    while i < len(sql):
        end = _skip(sql, i)
        if end != i:
            i = end
            continue
        if sql[i] == "?":
            n = len(values)
            if n >= len(params):
                raise ValueError(f"more ? placeholders than the {len(params)} values")
            out.append(sql[start:i])
            out.append(f"{{p{n}:{ch_type(params[n])}}}")
            values[f"p{n}"] = _plain(params[n])
            start = i + 1
        i += 1
    if len(values) != len(params):
        raise ValueError(f"{len(params)} values for {len(values)} ? placeholders")
    out.append(sql[start:])
    return "".join(out), values
