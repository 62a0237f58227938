"""Composition root: builds the services from settings and the ASGI app from the services.

This is the only module that picks adapters; everything else receives what it needs.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from starlette.applications import Starlette

from agentlytics.experiments.service import ExperimentService
from agentlytics.ingest.formats.agnost import McpSessions
from agentlytics.ingest.geo import GeoResolver
from agentlytics.ingest.metered import MeteredIngest, MonthlyQuota
from agentlytics.ingest.pipeline import Ingestor
from agentlytics.ingest.privacy import VisitorHasher
from agentlytics.projects.provision import Provisioner
from agentlytics.projects.service import ProjectService
from agentlytics.query.engine import QueryEngine
from agentlytics.settings import Settings
from agentlytics.storage import registry
from agentlytics.storage.ports import Coordinator, EventStore, MetaStore

log = logging.getLogger("agentlytics")


@dataclass
class Services:
    settings: Settings
    events: EventStore
    meta: MetaStore
    coord: Coordinator
    projects: ProjectService
    ingest: Ingestor
    query: QueryEngine
    experiments: ExperimentService
    #: Convalytics' unclaimed projects and claim links
    provisioner: Provisioner
    #: the pipeline behind the monthly event quota (Convalytics ingest)
    metered_ingest: MeteredIngest
    #: Agnost sessions' client and user, for the calls that follow
    mcp_sessions: McpSessions
    #: printed once at first start when no AGENTLYTICS_API_KEY was given
    bootstrap_key: str | None = None
    #: extra start/stop hooks registered by surfaces (e.g. the MCP session manager)
    lifespans: list[Callable[[], contextlib.AbstractAsyncContextManager[None]]] = field(
        default_factory=list
    )

    async def aclose(self) -> None:
        self.events.close()
        await self.coord.close()
        self.meta.close()


def _salt_store(
    meta: MetaStore,
) -> tuple[Callable[[], dict[str, bytes]], Callable[[dict[str, bytes]], None]]:
    def load() -> dict[str, bytes]:
        raw = meta.get_state("visitor_salts")
        return {day: bytes.fromhex(salt) for day, salt in json.loads(raw or "{}").items()}

    def save(salts: dict[str, bytes]) -> None:
        # a day's salt stored first (by another worker) wins, so every worker agrees;
        # compare-and-set retries when another worker wrote in between
        while True:
            raw = meta.get_state("visitor_salts")
            stored = json.loads(raw or "{}")
            merged = {day: stored.get(day, salt.hex()) for day, salt in salts.items()}
            if meta.compare_and_set_state("visitor_salts", raw, json.dumps(merged)):
                return

    return load, save


def build_services(settings: Settings) -> Services:
    """Open the stores named by the settings and wire the core services."""
    meta = registry.open_meta_store(settings)
    events = registry.open_event_store(settings)
    coord = registry.open_coordinator(settings)
    projects = ProjectService(meta, events, settings)
    bootstrap_key = projects.bootstrap()
    load, save = _salt_store(meta)
    geo = GeoResolver(settings.geoip_db or None)
    geo.warm()
    ingest = Ingestor(
        events,
        coord,
        settings,
        geo=geo,
        hasher=VisitorHasher(load=load, save=save),
    )
    query = QueryEngine(events)
    return Services(
        settings=settings,
        events=events,
        meta=meta,
        coord=coord,
        projects=projects,
        ingest=ingest,
        query=query,
        experiments=ExperimentService(meta, query),
        provisioner=Provisioner(projects, coord, settings, ingest.hasher),
        metered_ingest=MeteredIngest(ingest, MonthlyQuota(events, settings.max_events_per_month)),
        mcp_sessions=McpSessions(meta),
        bootstrap_key=bootstrap_key,
    )


def create_app(services: Services) -> Starlette:
    """The ASGI app: every surface mounted on the same services."""
    from agentlytics.api.errors import EXCEPTION_HANDLERS
    from agentlytics.api.middleware import (
        FAST_PATHS,
        BodyLimitMiddleware,
        IngestCorsMiddleware,
        IngestFastPath,
    )
    from agentlytics.api.routes import ENDPOINTS, build_routes
    from agentlytics.mcp.server import mcp_routes

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for hook in services.lifespans:
                await stack.enter_async_context(hook())
            try:
                yield
            finally:
                log.info("shutting down: committing acknowledged events")
        await services.aclose()

    app = Starlette(
        routes=[*build_routes(services), *mcp_routes(services)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_middleware(IngestCorsMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=services.settings.max_body_bytes)
    # outermost, even outside Starlette's own error middleware: events posted to these
    # routes skip the router and every layer between (the fast path maps every exception
    # to its handler itself)
    app.middleware_stack = IngestFastPath(
        app.build_middleware_stack(),
        routes={
            ep.path: ep.handler for ep in ENDPOINTS if ep.method == "POST" and ep.path in FAST_PATHS
        },
        handlers=EXCEPTION_HANDLERS,
        max_bytes=services.settings.max_body_bytes,
    )
    return app
