"""The columnar batch path: a ``/track/batch`` of well-formed events, decoded typed
(``formats/native.NativeEvent``), each straight into the row the store keeps (a tuple in
``EVENT_COLUMNS`` order).

The same checks, enrichment, rate limit, dedupe and live bus as ``Ingestor.ingest`` (the
checks are the pipeline's own helpers), but no draft, work record or ``Event`` per event, and
what the request's events share (source, client, environment, country, visitor id) worked
out once. A request it cannot take (a bot's, a store without ``append_rows``, a body that does
not decode typed) goes through ``Ingestor.ingest``; ``tests/api/test_track_rows.py`` checks
that both store and reject alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

from agentlytics.ingest import enrich
from agentlytics.ingest.bots import classify_bot
from agentlytics.ingest.draft import RequestContext
from agentlytics.ingest.formats.native import NativeEvent
from agentlytics.ingest.pipeline import (
    MCP_FIELDS,
    Ingestor,
    Invalid,
    checked_name,
    checked_properties,
    clip,
    environment,
    new_event_id,
    page,
    parse_timestamp,
    promoted,
    properties_text,
)
from agentlytics.model.event import EVENT_COLUMNS
from agentlytics.model.project import Project

_NOT_YET = object()
_NO_PROPS: dict[str, str | None] = {}
_NO_MCP_ROW = (None,) * len(MCP_FIELDS)
_NO_CLIENT = (None, None, None)
_UTM = frozenset(enrich.UTM_KEYS)
_EVENT_ID, _NAME, _TIMESTAMP, _USER_ID, _ANONYMOUS_ID, _SESSION_ID, _PATH, _COUNTRY, _SOURCE = (
    EVENT_COLUMNS.index(c)
    for c in (
        "event_id",
        "name",
        "timestamp",
        "user_id",
        "anonymous_id",
        "session_id",
        "path",
        "country",
        "source",
    )
)


def takes_rows(ingestor: Ingestor, ctx: RequestContext, source: str) -> bool:
    """Whether a native batch may take ``ingest``: the store takes rows, and the
    request is not one whose events are dropped as bots (those go through ``ingest``,
    which counts them)."""
    if getattr(ingestor.store, "append_rows", None) is None:
        return False
    return source != "browser" or classify_bot(ctx.user_agent) is None


async def ingest(
    ingestor: Ingestor,
    project: Project,
    events: Sequence[NativeEvent],
    ctx: RequestContext,
    source: str,
) -> list[tuple[int, str, str]]:
    """``Ingestor.ingest`` for a ``/track/batch`` of well-formed native events (``takes_rows``):
    the same checks, enrichment, rate limit, dedupe and live bus, but each event goes
    straight to its stored row (a tuple in ``EVENT_COLUMNS`` order) without a draft,
    a work record or an ``Event``, and what the request's events share is worked out
    once. Returns the rejected events as (index, code, message).

    Raises:
        RateLimited: as ``ingest``.
    """
    rows, props, rejected = native_rows(ingestor, project, events, ctx, source)
    await ingestor.check_rate(project, len(rows))
    if rows:
        flags = await ingestor.store.append_rows(rows)  # type: ignore[attr-defined]
        new = [i for i, fresh in enumerate(flags) if fresh]
        await ingestor.coord.publish(project.id, _LiveRows(rows, props, new))
    return rejected


def native_rows(
    ingestor: Ingestor,
    project: Project,
    events: Sequence[NativeEvent],
    ctx: RequestContext,
    source: str,
) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]], list[tuple[int, str, str]]]:
    """The rows of the valid events, their properties, and the rejected events."""
    shared = _Shared(ingestor, project, ctx, source)
    rows: list[tuple[Any, ...]] = []
    props: list[dict[str, Any]] = []
    rejected: list[tuple[int, str, str]] = []
    for index, event in enumerate(events):
        try:
            values, properties = _row(event, shared)
        except Invalid as exc:
            rejected.append((index, exc.code, exc.message))
            continue
        rows.append(values)
        props.append(properties)
    return rows, props, rejected


def _row(e: NativeEvent, shared: _Shared) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """One event's row: the pipeline's steps in their order, for a native event of a request
    that is not a bot's. Raises Invalid.

    The event decoded typed (``NativeEvent``), the common cases take no call: a check
    that fails calls the step's own helper, which raises with its message."""
    name = e.event  # at most MAX_NAME long, as the ids theirs (``NativeEvent``)
    stripped = name.strip()
    if not stripped:
        checked_name(name)
    props = e.properties
    if props is None:
        props = {}
    elif len(props) > shared.max_properties:
        checked_properties(props, shared.max_properties)
    received_at = shared.received_at
    timestamp = received_at if e.timestamp is None else parse_timestamp(e.timestamp, received_at)
    event_id, user_id, anonymous_id, session_id = e.id, e.user_id, e.anonymous_id, e.session_id
    email = None if e.user_email is None else clip(e.user_email, 200)
    user_name = None if e.user_name is None else clip(e.user_name, 200)
    text = properties_text(props, shared.max_properties_bytes)
    p = promoted(props) if props else _NO_PROPS
    mcp_row = e.mcp_row()
    if mcp_row is None:
        mcp_row = _NO_MCP_ROW
        source = shared.source
    else:
        source = "mcp"
    get = p.get
    url, referrer = get("url"), get("referrer")
    host, path, utm, referrer_host, utm_row = page(url, get("path"), referrer)
    if not _UTM.isdisjoint(p):
        utm_row = tuple([get(k) or utm.get(k) for k in enrich.UTM_KEYS])
    if source == "browser":
        client, country = shared.client, shared.country()
    else:
        client, country = _NO_CLIENT, shared.country() if shared.geo_always else None
    if not (anonymous_id or user_id):
        anonymous_id = shared.visitor()
    page_origin = e.page_origin
    return (
        shared.project_id,
        event_id or new_event_id(),
        stripped,
        timestamp,
        shared.received_at,
        user_id or None,
        anonymous_id or None,
        session_id or None,
        email,
        user_name,
        url,
        host,
        path,
        get("title"),
        referrer,
        referrer_host,
        *utm_row,
        country,
        *client,
        get("language"),
        get("screen"),
        get("timezone"),
        shared.environment
        if page_origin is None
        else environment(None, page_origin, shared.origin),
        source,
        *mcp_row,
        text,
    ), props


class _Shared:
    """What the events of one ``/track/batch`` request share, for ``native_rows``:
    worked out once (the country and visitor id when the first event needs them)."""

    def __init__(
        self, ingestor: Ingestor, project: Project, ctx: RequestContext, source: str
    ) -> None:
        self.ingestor = ingestor
        self.project = project
        self.project_id = project.id
        self.ctx = ctx
        self.received_at = ctx.received_at
        self.source = source
        self.origin = ctx.origin
        self.environment = environment(None, None, self.origin)
        self.max_properties = ingestor.settings.max_properties
        self.max_properties_bytes = ingestor.settings.max_properties_bytes
        ua = ctx.user_agent
        self.client: tuple[str | None, str | None, str | None] = (None, None, None)
        if source == "browser" and ua:
            client = enrich.parse_user_agent(ua)
            self.client = (client.browser, client.os, client.device)
        self.geo_always = bool(ctx.headers.get("cf-ipcountry"))
        self._country: Any = _NOT_YET
        self._visitor: str | None = None

    def country(self) -> str | None:
        if self._country is _NOT_YET:
            ctx = self.ctx
            self._country = self.ingestor.geo.country(ctx.headers, ctx.client_ip)
        return self._country  # type: ignore[no-any-return]

    def visitor(self) -> str:
        if self._visitor is None:
            self._visitor = self.ingestor.visitor_id(self.project_id, self.ctx)
        return self._visitor


class _LiveRows(Sequence[dict[str, Any]]):
    """The live views of some rows of ``native_rows`` (those at ``indexes``), each made
    when read: the in-process live bus keeps them as they are, and most are never read."""

    def __init__(
        self, rows: list[tuple[Any, ...]], props: list[dict[str, Any]], indexes: list[int]
    ) -> None:
        self.rows, self.props, self.indexes = rows, props, indexes

    def __len__(self) -> int:
        return len(self.indexes)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[dict[str, Any]]: ...
    def __getitem__(self, i: int | slice) -> dict[str, Any] | Sequence[dict[str, Any]]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        at = self.indexes[i]
        row = self.rows[at]
        return {  # as ``pipeline.live_view``
            "id": row[_EVENT_ID],
            "event": row[_NAME],
            "properties": self.props[at],
            "user_id": row[_USER_ID] or row[_ANONYMOUS_ID],
            "session_id": row[_SESSION_ID],
            "timestamp": row[_TIMESTAMP],
            "path": row[_PATH],
            "country": row[_COUNTRY],
            "source": row[_SOURCE],
        }
