"""The ingest pipeline: every surface's events go through these steps, in this order.

Per event (``EVENT_STEPS``, each a small function over a ``_Work`` record):
    validate → normalize → put_url → put_client (user agent, bots) → put_geo →
    put_environment → put_visitor_id
Per request, after that:
    rate limit (the whole batch at once) → dedupe + write (group commit) → live bus

What depends only on the request (the user agent's bot verdict and parse, the country, the
cookieless visitor id) is worked out once per request, by the first event that needs it.

A step rejects one event by raising ``Invalid`` (the rest of the batch goes on) or drops it as
automated traffic by raising ``DropBot``. An event is acknowledged only after the write
returned, which is after its commit.

``columnar.py`` runs the same steps for a ``/track/batch`` decoded typed, straight into the
rows the store keeps; it shares the checks below (``checked_name``, ``properties_text``, …).
"""

from __future__ import annotations

import functools
import json
import math
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import msgspec

from agentlytics.ingest import enrich
from agentlytics.ingest.bots import classify_bot
from agentlytics.ingest.draft import Draft, RequestContext
from agentlytics.ingest.geo import GeoResolver
from agentlytics.ingest.privacy import VisitorHasher
from agentlytics.limits import charge
from agentlytics.model.event import BotHit, Event
from agentlytics.model.project import Project
from agentlytics.settings import Settings
from agentlytics.storage.ports import Coordinator, EventStore

MAX_NAME = 200
MAX_ID = 256
MAX_EVENT_ID = 128
MAX_TEXT = 2000
MAX_MCP_PAYLOAD = 32_768
MIN_TIMESTAMP_MS = 946_684_800_000  # 2000-01-01
FUTURE_SKEW_MS = 5 * 60 * 1000
PROMOTED_PROPERTIES = (
    "url",
    "path",
    "title",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "language",
    "screen",
    "timezone",
)


@functools.lru_cache(maxsize=4096)
def environment(deployment: str | None, page_origin: str | None, origin: str | None) -> str:
    return enrich.classify_environment(deployment, page_origin, origin)


class Invalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DropBot(Exception):
    def __init__(self, hit: BotHit) -> None:
        super().__init__(hit.actor)
        self.hit = hit


class Outcome(msgspec.Struct, frozen=True):
    """What became of one event. (msgspec structs, like ``_Work``: one per event, and their
    ``__init__`` is in C, where a frozen dataclass's sets each field through Python.)"""

    status: Literal["accepted", "duplicate", "invalid", "bot"]
    code: str | None = None
    message: str | None = None
    event: Event | None = None

    @property
    def ok(self) -> bool:
        return self.status != "invalid"


class _Work(msgspec.Struct):
    draft: Draft
    ctx: RequestContext
    project: Project
    #: per request: what every event of the request shares, computed once (see the steps)
    shared: dict[str, Any]
    properties: dict[str, Any] = msgspec.field(default_factory=dict)
    values: dict[str, Any] = msgspec.field(default_factory=dict)


_PROMOTED = frozenset(PROMOTED_PROPERTIES)
_NOT_YET = object()


def _per_request(work: _Work, key: str, compute: Callable[..., Any], *args: Any) -> Any:
    """``compute(*args)``, once per request: its events share the answer (``_Work.shared``).

    The function and its arguments rather than a closure: every event of a batch asks, and
    making a closure each time cost more than the lookup."""
    value = work.shared.get(key, _NOT_YET)
    if value is _NOT_YET:
        value = work.shared[key] = compute(*args)
    return value


def checked_text(value: Any, field_name: str, limit: int) -> str | None:
    if type(value) is str:  # the common case first
        if len(value) > limit:
            raise Invalid("INVALID_FIELD", f"{field_name} is longer than {limit} characters")
        return value or None
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Invalid("INVALID_FIELD", f"{field_name} must be a string")
    text = str(value)
    if len(text) > limit:
        raise Invalid("INVALID_FIELD", f"{field_name} is longer than {limit} characters")
    return text


def clip(value: Any, limit: int) -> str | None:
    if type(value) is str:
        return value[:limit] or None
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    return str(value)[:limit]


def checked_name(name: Any) -> str:
    """An event's name, stripped. Raises Invalid."""
    if not isinstance(name, str) or not name.strip():
        raise Invalid("MISSING_FIELDS", "event name is required (a non-empty string)")
    if len(name) > MAX_NAME:
        raise Invalid("INVALID_FIELD", f"event name is longer than {MAX_NAME} characters")
    return name.strip()


def checked_properties(props: Any, limit: int) -> dict[str, Any]:
    """An event's properties (None for none), at most ``limit`` of them. Raises Invalid."""
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise Invalid("INVALID_PROPERTIES", "properties must be a JSON object")
    if len(props) > limit:
        raise Invalid(
            "PROPERTIES_TOO_LARGE", f"{len(props)} properties; at most {limit} are allowed"
        )
    return props


def properties_text(props: dict[str, Any], max_bytes: int) -> str:
    """The properties as the JSON text stored, at most ``max_bytes``. Raises Invalid."""
    if not props:
        return "{}"
    try:
        encoded = msgspec.json.encode(props)
    except (TypeError, msgspec.EncodeError, OverflowError):
        raise Invalid("INVALID_PROPERTIES", "properties must be JSON-encodable") from None
    if len(encoded) > max_bytes:
        raise Invalid(
            "PROPERTIES_TOO_LARGE",
            f"properties are {len(encoded)} bytes; at most {max_bytes} are allowed",
        )
    return encoded.decode()


def promoted(props: dict[str, Any]) -> dict[str, str | None]:
    """The properties that are also columns (``PROMOTED_PROPERTIES``), clipped."""
    out = {}
    for key in _PROMOTED.intersection(props):
        value = props[key]
        if type(value) is str:  # the common case, without a call
            out[key] = value[:MAX_TEXT] or None
        elif value is not None:
            out[key] = clip(value, MAX_TEXT)
    return out


#: an MCP call's fields, in the order of their columns (``mcp_row``)
MCP_FIELDS = (
    "mcp_session_id",
    "primitive_type",
    "primitive_name",
    "latency_ms",
    "success",
    "error",
    "args",
    "result",
    "client",
)
_KINDS = ("tool", "resource", "prompt")


def mcp_row(
    session_id: Any,
    kind: Any,
    name: Any,
    latency: Any,
    success: Any,
    error: Any,
    args: Any,
    result: Any,
    client: Any,
) -> tuple[Any, ...]:
    """The columns of an MCP call's fields (``MCP_FIELDS``, each None when not sent), in
    that order. Raises Invalid."""
    if kind is not None and kind not in _KINDS:
        raise Invalid("INVALID_FIELD", "primitive_type must be 'tool', 'resource' or 'prompt'")
    if latency is not None:
        if isinstance(latency, bool) or not isinstance(latency, int | float):
            raise Invalid("INVALID_FIELD", "latency must be a number of milliseconds")
        latency = float(latency)
    if success is not None and not isinstance(success, bool):
        raise Invalid("INVALID_FIELD", "success must be true or false")
    return (
        clip(session_id, MAX_ID),
        kind,
        clip(name, MAX_NAME),
        latency,
        success,
        clip(error, MAX_TEXT),
        clip(args, MAX_MCP_PAYLOAD),
        clip(result, MAX_MCP_PAYLOAD),
        clip(client, MAX_NAME),
    )


def mcp_values(mcp: dict[str, Any]) -> dict[str, Any]:
    """The columns of an MCP call's fields, by name (``mcp_row``). Raises Invalid."""
    return dict(zip(MCP_FIELDS, mcp_row(*[mcp.get(k) for k in MCP_FIELDS]), strict=True))


@functools.lru_cache(maxsize=16384)
def page(
    url: str | None, path: str | None, referrer: str | None
) -> tuple[str | None, str | None, dict[str, str], str | None, tuple[str | None, ...]]:
    """An event's host, path (from ``path``, else the URL's; without query and fragment),
    the URL's UTM tags (a dict, and their values in ``UTM_KEYS`` order) and the referrer's
    host. Cached: pages and referrers repeat (the UTM dicts are shared, so callers only
    read them)."""
    host, url_path, utm = enrich.split_url(url)
    path = path or url_path
    clean = path.split("?", 1)[0].split("#", 1)[0][:500] if path else None
    utm_row = tuple([utm.get(k) for k in enrich.UTM_KEYS])
    return host, clean, utm, enrich.referrer_host(referrer, host), utm_row


def parse_timestamp(value: Any, received_at: int) -> int:
    """Unix ms (seconds are recognised by size) or an ISO-8601 string; future times are clamped."""
    if value is None or value == "":
        return received_at
    if isinstance(value, bool):
        raise Invalid("INVALID_TIMESTAMP", "timestamp must be unix milliseconds or ISO-8601")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise Invalid("INVALID_TIMESTAMP", "timestamp must be a finite number")
        ms = int(value * 1000) if abs(value) < 1e11 else int(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(
                "INVALID_TIMESTAMP", f"timestamp {value[:40]!r} is not unix ms or ISO-8601"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.now().astimezone().tzinfo)
        ms = int(parsed.timestamp() * 1000)
    else:
        raise Invalid("INVALID_TIMESTAMP", "timestamp must be unix milliseconds or ISO-8601")
    if ms < MIN_TIMESTAMP_MS:
        raise Invalid("INVALID_TIMESTAMP", "timestamp is before the year 2000; send unix ms")
    return min(ms, received_at + FUTURE_SKEW_MS)


def new_event_id() -> str:
    """A UUIDv7: time-ordered, so ids sort roughly by arrival."""
    ms = int(time.time() * 1000)
    rand = uuid.uuid4().int & ((1 << 74) - 1)
    value = (
        (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    )
    return str(uuid.UUID(int=value))


class Ingestor:
    """Runs the pipeline. One per process; surfaces call :meth:`ingest`."""

    def __init__(
        self,
        store: EventStore,
        coord: Coordinator,
        settings: Settings,
        *,
        geo: GeoResolver,
        hasher: VisitorHasher,
    ) -> None:
        self.store = store
        self.coord = coord
        self.settings = settings
        self.geo = geo
        self.hasher = hasher
        self.steps: list[tuple[str, Callable[[_Work], None]]] = [
            ("validate", self.validate),
            ("normalize", self.normalize),
            ("put_url", self.put_url),
            ("put_client", self.put_client),
            ("put_geo", self.put_geo),
            ("put_environment", self.put_environment),
            ("put_visitor_id", self.put_visitor_id),
        ]

    # per-event steps --------------------------------------------------------------------

    def validate(self, work: _Work) -> None:
        d = work.draft
        name = checked_name(d.name)
        work.properties = checked_properties(d.properties, self.settings.max_properties)
        v = work.values
        v["name"] = name
        v["timestamp"] = parse_timestamp(d.timestamp, work.ctx.received_at)
        v["event_id"] = checked_text(d.event_id, "id", MAX_EVENT_ID) or new_event_id()
        v["user_id"] = checked_text(d.user_id, "user_id", MAX_ID)
        v["anonymous_id"] = checked_text(d.anonymous_id, "anonymous_id", MAX_ID)
        v["session_id"] = checked_text(d.session_id, "session_id", MAX_ID)
        v["user_email"] = clip(d.user_email, 200)
        v["user_name"] = clip(d.user_name, 200)

    def normalize(self, work: _Work) -> None:
        props = work.properties
        v = work.values
        v["properties"] = properties_text(props, self.settings.max_properties_bytes)
        if props:
            v.update(promoted(props))
        columns = work.draft.columns
        if columns:
            v.update({k: val for k, val in columns.items() if val is not None})
        mcp = work.draft.mcp
        if mcp:
            v.update(mcp_values(mcp))

    def put_url(self, work: _Work) -> None:
        v = work.values
        host, path, utm, referrer_host, _ = page(v.get("url"), v.get("path"), v.get("referrer"))
        v["host"] = host
        v["path"] = path
        for key, value in utm.items():
            if not v.get(key):
                v[key] = value
        v["referrer_host"] = referrer_host

    def put_client(self, work: _Work) -> None:
        if work.draft.source != "browser":
            return
        ua = work.ctx.user_agent
        bot = _per_request(work, "bot", classify_bot, ua)
        if bot is not None:
            raise DropBot(
                BotHit(
                    project_id=work.project.id,
                    timestamp=work.values["timestamp"],
                    category=bot.category,
                    actor=bot.actor,
                    name=work.values["name"],
                )
            )
        if ua:
            client = _per_request(work, "client", enrich.parse_user_agent, ua)
            work.values.update(browser=client.browser, os=client.os, device=client.device)

    def put_geo(self, work: _Work) -> None:
        if work.draft.source == "browser" or work.ctx.headers.get("cf-ipcountry"):
            ctx = work.ctx
            work.values["country"] = _per_request(
                work, "country", self.geo.country, ctx.headers, ctx.client_ip
            )

    def put_environment(self, work: _Work) -> None:
        d = work.draft
        work.values["environment"] = environment(d.deployment_name, d.page_origin, work.ctx.origin)
        work.values["source"] = d.source

    def put_visitor_id(self, work: _Work) -> None:
        v = work.values
        if v.get("anonymous_id") or v.get("user_id"):
            return
        v["anonymous_id"] = _per_request(
            work, "visitor", self.visitor_id, work.project.id, work.ctx
        )

    def visitor_id(self, project_id: str, ctx: RequestContext) -> str:
        """The cookieless visitor id of a request's events without a user id."""
        return self.hasher.visitor_id(
            project_id,
            ctx.client_ip or "",
            ctx.user_agent or "",
            datetime.fromtimestamp(ctx.received_at / 1000).astimezone(),
        )

    # the request ------------------------------------------------------------------------

    def build(self, project: Project, draft: Draft, ctx: RequestContext) -> Event:
        """Run the per-event steps. Raises Invalid or DropBot."""
        return self._build(project, draft, ctx, {})[0]

    def _build(
        self, project: Project, draft: Draft, ctx: RequestContext, shared: dict[str, Any]
    ) -> tuple[Event, dict[str, Any]]:
        """The event and its properties as a dict (the live bus needs them decoded).

        ``shared``: one dict per request, for what its events share."""
        work = _Work(draft, ctx, project, shared)
        for _name, step in self.steps:
            step(work)
        event = Event(project_id=project.id, received_at=ctx.received_at, **work.values)
        return event, work.properties

    async def check_rate(self, project: Project, count: int) -> None:
        await charge(
            self.coord,
            f"ingest:{project.id}",
            self.settings.ingest_rate_limit,
            60,
            "Ingest rate limit exceeded ({limit} events/min). Retry after reset.",
            cost=count,
            reason="rate_limit",
        )

    async def ingest(
        self, project: Project, drafts: Sequence[Draft], ctx: RequestContext
    ) -> list[Outcome]:
        """Validate, enrich, rate-limit and durably store a batch; one outcome per draft.

        Raises:
            RateLimited: the batch's valid events would pass the project's per-minute limit
                (nothing of the batch is stored then).
        """
        outcomes: list[Outcome | None] = [None] * len(drafts)
        events: list[tuple[int, Event]] = []
        props: list[dict[str, Any]] = []
        bots: list[BotHit] = []
        shared: dict[str, Any] = {}
        for index, draft in enumerate(drafts):
            try:
                event, properties = self._build(project, draft, ctx, shared)
                events.append((index, event))
                props.append(properties)
            except Invalid as exc:
                outcomes[index] = Outcome("invalid", exc.code, exc.message)
            except DropBot as drop:
                bots.append(drop.hit)
                outcomes[index] = Outcome("bot", "BOT", drop.hit.actor)
        await self.check_rate(project, len(events))
        if events or bots:
            flags = await self.store.append([e for _, e in events], bots)
            live = []
            for (index, event), properties, new in zip(events, props, flags, strict=True):
                outcomes[index] = Outcome("accepted" if new else "duplicate", event=event)
                if new:
                    live.append(live_view(event, properties))
            await self.coord.publish(project.id, live)
        return [
            o if o is not None else Outcome("invalid", "INTERNAL", "not processed")
            for o in outcomes
        ]


def live_view(event: Event, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON an event takes on the live bus and the /stream endpoint.

    ``properties``: the event's properties already decoded, when the caller has them.
    """
    return {
        "id": event.event_id,
        "event": event.name,
        "properties": json.loads(event.properties) if properties is None else properties,
        "user_id": event.user_id or event.anonymous_id,
        "session_id": event.session_id,
        "timestamp": event.timestamp,
        "path": event.path,
        "country": event.country,
        "source": event.source,
    }
