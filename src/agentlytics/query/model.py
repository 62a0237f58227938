"""The query model: what can be asked, as typed data with a JSON Schema.

A query is metrics by group-by dimensions, over filters and a date range, in a time zone.
Every read endpoint, MCP tool and dashboard panel is one or more of these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

from agentlytics.errors import ValidationError

FilterOp = Literal["eq", "neq", "gt", "lt", "gte", "lte", "contains", "not_contains"]
FILTER_OPS: tuple[str, ...] = FilterOp.__args__  # type: ignore[attr-defined]
PROPERTY_KEY_RE = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_$.\-]{0,127}$")
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    help: str
    #: "event": an aggregate over events; "session": needs sessions; "mcp": over $mcp_call events
    level: Literal["event", "session"]


@dataclass(frozen=True, slots=True)
class Dimension:
    name: str
    help: str
    #: the base-relation column or expression key the builder resolves
    column: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("event_count", "number of events", "event"),
        Metric("unique_users", "distinct users (identity-resolved)", "event"),
        Metric("session_count", "distinct sessions", "event"),
        Metric("pageviews", "page_view events", "event"),
        Metric("bounce_rate", "share of sessions with only passive events (0-1)", "session"),
        Metric("avg_duration", "mean session duration in seconds", "session"),
        Metric("call_count", "MCP tool/resource/prompt calls", "event"),
        Metric("error_count", "failed MCP calls", "event"),
        Metric("error_rate", "failed MCP calls / calls (0-1)", "event"),
        Metric("avg_latency_ms", "mean MCP call latency", "event"),
        Metric("p50_latency_ms", "median MCP call latency", "event"),
        Metric("p95_latency_ms", "95th percentile MCP call latency", "event"),
        Metric("p99_latency_ms", "99th percentile MCP call latency", "event"),
    ]
}

DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in [
        Dimension("event", "event name", "name"),
        Dimension("date", "day in the project's time zone (see interval)", "date"),
        Dimension("hour", "hour bucket in the project's time zone", "hour"),
        Dimension("week", "week (Monday) in the project's time zone", "week"),
        Dimension("month", "month in the project's time zone", "month"),
        Dimension("user_id", "identity-resolved user", "uid"),
        Dimension("session_id", "session", "sid"),
        Dimension("country", "ISO country code", "country"),
        Dimension("path", "page path", "path"),
        Dimension("host", "page host", "host"),
        Dimension("referrer", "referring host", "referrer_host"),
        Dimension("utm_source", "UTM source", "utm_source"),
        Dimension("utm_medium", "UTM medium", "utm_medium"),
        Dimension("utm_campaign", "UTM campaign", "utm_campaign"),
        Dimension("utm_term", "UTM term", "utm_term"),
        Dimension("utm_content", "UTM content", "utm_content"),
        Dimension("browser", "browser family", "browser"),
        Dimension("os", "operating system", "os"),
        Dimension("device", "desktop, mobile, tablet", "device"),
        Dimension("language", "browser language", "language"),
        Dimension("environment", "production or development", "environment"),
        Dimension("source", "browser, server or mcp", "source"),
        Dimension("tool", "MCP tool/resource/prompt name", "primitive_name"),
        Dimension("primitive_type", "tool, resource or prompt", "primitive_type"),
        Dimension("client", "MCP client name", "client"),
        Dimension("mcp_session_id", "MCP session", "mcp_session_id"),
    ]
}

#: columns a filter may name directly (besides properties.*)
FILTER_FIELDS: dict[str, str] = {
    **{
        name: d.column
        for name, d in DIMENSIONS.items()
        if d.column not in {"date", "hour", "week", "month"}
    },
    "user_email": "user_email",
    "user_name": "user_name",
    "anonymous_id": "anonymous_id",
    "title": "title",
    "url": "url",
    "success": "success",
    "latency_ms": "latency_ms",
    "error": "error",
}


class Filter(msgspec.Struct, forbid_unknown_fields=True):
    field: str
    #: one of ``FILTER_OPS``; any text decodes, so that ``check_spec`` answers an unknown one
    #: with INVALID_FILTER_OP and the valid choices (the schema still lists them)
    op: Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(FILTER_OPS)})] = "eq"
    value: str | int | float | bool | None = None


class QuerySpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A flexible analytics query (``POST /query``)."""

    metrics: list[str] = msgspec.field(default_factory=lambda: ["event_count"])
    group_by: list[str] = msgspec.field(default_factory=list)
    filters: list[Filter] = msgspec.field(default_factory=list)
    date_from: str | None = None
    date_to: str | None = None
    interval: Literal["hour", "day", "week", "month"] = "day"
    timezone: str | None = None
    count_mode: Literal["raw", "session_then_user"] = "session_then_user"
    order_by: str | None = None
    order: Literal["asc", "desc"] = "desc"
    limit: int = 100
    #: events only; bots never reach the events table
    project: str | None = None


def check_spec(spec: QuerySpec) -> None:
    """Refuse what the engine cannot run, listing the valid choices.

    Raises:
        ValidationError: INVALID_METRIC, INVALID_GROUP_BY, INVALID_FILTER_OP,
            INVALID_PROPERTY_KEY or INVALID_LIMIT.
    """
    if not spec.metrics:
        raise ValidationError("metrics must name at least one metric", code="INVALID_METRIC")
    for name in spec.metrics:
        if name not in METRICS:
            raise ValidationError(
                f"unknown metric {name!r}; valid metrics: {', '.join(METRICS)}",
                code="INVALID_METRIC",
            )
    for name in spec.group_by:
        if name.startswith("properties."):
            check_property_key(name.removeprefix("properties."))
        elif name not in DIMENSIONS:
            raise ValidationError(
                f"unknown group_by {name!r}; valid: {', '.join(DIMENSIONS)} or properties.<key> "
                "(GET /properties lists the keys)",
                code="INVALID_GROUP_BY",
            )
    for f in spec.filters:
        if f.op not in FILTER_OPS:
            raise ValidationError(
                f"unknown filter op {f.op!r}; valid ops: {', '.join(FILTER_OPS)}",
                code="INVALID_FILTER_OP",
            )
        check_filter_field(f.field)
    if not 1 <= spec.limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}", code="INVALID_LIMIT")
    if spec.order_by and spec.order_by not in spec.metrics and spec.order_by not in spec.group_by:
        raise ValidationError(
            f"order_by must be one of the requested metrics or group_by fields: "
            f"{', '.join(spec.metrics + spec.group_by)}",
            code="INVALID_ORDER_BY",
        )


def check_property_key(key: str) -> str:
    if not PROPERTY_KEY_RE.match(key):
        raise ValidationError(
            f"invalid property key {key!r}: use letters, digits, '_', '$', '.' or '-' "
            "(at most 128 characters); GET /properties lists the keys",
            code="INVALID_PROPERTY_KEY",
        )
    return key


def check_filter_field(name: str) -> None:
    if name.startswith("properties."):
        check_property_key(name.removeprefix("properties."))
    elif name not in FILTER_FIELDS:
        raise ValidationError(
            f"unknown filter field {name!r}; valid: {', '.join(FILTER_FIELDS)} or "
            "properties.<key> (GET /properties lists the keys)",
            code="INVALID_FILTER_FIELD",
        )


def query_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`QuerySpec`, with the valid names spelled out."""
    schema: dict[str, Any] = msgspec.json.schema(QuerySpec)
    defs = schema.get("$defs", {})
    spec_def = defs.get("QuerySpec", schema)
    props = spec_def["properties"]
    props["metrics"]["items"] = {"enum": list(METRICS)}
    props["group_by"]["items"] = {
        "anyOf": [{"enum": list(DIMENSIONS)}, {"type": "string", "pattern": r"^properties\."}]
    }
    props["metrics"]["description"] = "; ".join(f"{m.name}: {m.help}" for m in METRICS.values())
    props["group_by"]["description"] = "; ".join(f"{d.name}: {d.help}" for d in DIMENSIONS.values())
    return schema
