"""The whole HTTP route table on one screen. ``/openapi.json`` is generated from it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agentlytics.api import agnost, analysis, health, live, mcp_overview, projects, reads, track
from agentlytics.api import convalytics as cnv
from agentlytics.api import discovery as disc
from agentlytics.api import experiments as exps
from agentlytics.api import reads_more as more
from agentlytics.api.common import charged, json_response
from agentlytics.api.openapi import build_openapi
from agentlytics.api.table import Endpoint
from agentlytics.app import Services
from agentlytics.web import dashboard as web_dashboard
from agentlytics.web import pages as web_pages

E = Endpoint

ENDPOINTS: list[Endpoint] = [
    # ingest (write key)
    E("POST", "/track", track.track, "Track a single event", "track", "write_key", 202),
    E(
        "POST",
        "/track/batch",
        track.track_batch,
        "Track up to 100 events",
        "track",
        "write_key",
        202,
    ),
    E(
        "POST",
        "/identify",
        track.identify,
        "Link an anonymous id to a user id",
        "track",
        "write_key",
        202,
    ),
    # Agnost (X-Org-Id = write key); also under the doubled prefix its Python SDK can produce
    *[
        E("POST", prefix + path, handler, summary, "agnost", "write_key", documented=not doubled)
        for doubled, prefix in ((False, "/api/v1"), (True, "/api/v1/api/v1"))
        for path, handler, summary in (
            ("/capture-session", agnost.capture_session, "Agnost: create an MCP session"),
            ("/capture-event", agnost.capture_event, "Agnost: record an MCP call"),
        )
    ],
    # projects and account
    E("GET", "/projects", projects.list_projects, "List all projects", "projects"),
    E(
        "POST",
        "/projects",
        projects.create_project,
        "Create a project (idempotent by name)",
        "projects",
        status=201,
    ),
    E("GET", "/projects/{id}", projects.get_project, "Get project details", "projects"),
    E("PATCH", "/projects/{id}", projects.update_project, "Update a project", "projects"),
    E(
        "DELETE",
        "/projects/{id}",
        projects.delete_project,
        "Soft-delete a project and revoke its token",
        "projects",
    ),
    E("GET", "/account", projects.account, "Get account info and limits", "account"),
    E(
        "POST",
        "/account/revoke-key",
        projects.revoke_key,
        "Revoke this API key and issue a new one",
        "account",
    ),
    E("GET", "/account/keys", projects.list_keys, "List API keys (never their values)", "account"),
    E(
        "POST",
        "/account/keys",
        projects.create_key,
        "Create an API key (shown once)",
        "account",
        status=201,
    ),
    E("DELETE", "/account/keys/{key_id}", projects.delete_key, "Revoke an API key", "account"),
    E("GET", "/health", health.health, "Health check", "health", "none"),
    # Convalytics API (docs/convalytics.md): provision, ingest, verify, tracker script
    E(
        "POST",
        "/api/provision",
        cnv.provision,
        "Create an unclaimed project, no auth (Convalytics)",
        "convalytics",
        "none",
        body=cnv.PROVISION_BODY,
    ),
    E(
        "OPTIONS",
        "/api/provision",
        cnv.preflight,
        "CORS preflight",
        "convalytics",
        "none",
        204,
        documented=False,
    ),
    E(
        "POST",
        "/ingest",
        cnv.ingest,
        "Track one event (Convalytics format)",
        "convalytics",
        "write_key",
        body=cnv.INGEST_BODY,
    ),
    E(
        "POST",
        "/ingest/batch",
        cnv.ingest_batch,
        "Track up to 100 events (Convalytics format)",
        "convalytics",
        "write_key",
        body=cnv.BATCH_BODY,
    ),
    E(
        "GET",
        "/verify",
        cnv.verify,
        "Recent events and page views for a write key",
        "convalytics",
        "write_key",
        query={"writeKey": "the project's write key"},
    ),
    E(
        "OPTIONS",
        "/verify",
        cnv.preflight,
        "CORS preflight",
        "convalytics",
        "none",
        204,
        documented=False,
    ),
    E(
        "GET",
        "/script.js",
        cnv.script_js,
        "Browser tracker; write key in ?key=",
        "tracker",
        "none",
        query={"key": "the project's write key"},
    ),
    E(
        "GET",
        "/tracker.js",
        cnv.tracker_js,
        "Browser tracker; write key in data-token",
        "tracker",
        "none",
    ),
    # discovery for agents
    E("GET", "/llms.txt", disc.llms, "Short index for LLMs", "discovery", "none"),
    E(
        "GET",
        "/llms-full.txt",
        disc.llms_full,
        "The whole manual as text",
        "discovery",
        "none",
    ),
    E(
        "GET",
        "/.well-known/mcp/server-card.json",
        disc.mcp_server_card,
        "MCP server card",
        "discovery",
        "none",
    ),
    # reads (query engine)
    E("GET", "/stats", reads.stats, "Aggregated stats overview", "stats", read=True),
    E("GET", "/events", reads.events, "Raw event log", "events", read=True),
    E("POST", "/query", reads.query, "Flexible analytics query", "query", read=True),
    E(
        "GET",
        "/query/schema",
        reads.query_schema_route,
        "JSON Schema of the query model",
        "query",
        "none",
    ),
    E(
        "GET",
        "/properties",
        reads.properties,
        "Discover event names and property keys",
        "properties",
        read=True,
    ),
    E(
        "GET",
        "/properties/received",
        reads.properties_received,
        "Property keys by event name",
        "properties",
        read=True,
    ),
    E("GET", "/breakdown", reads.breakdown, "Top property values", "breakdown", read=True),
    E(
        "GET",
        "/mcp-servers",
        mcp_overview.mcp_servers,
        "MCP server overview: sessions, calls, errors, latency",
        "mcp",
        query=mcp_overview.QUERY,
        read=True,
    ),
    # funnels, retention, paths (query engine) and saved funnels (MetaStore docs)
    E(
        "POST",
        "/funnel",
        analysis.funnel,
        "Funnel analysis",
        "funnel",
        body=analysis.FUNNEL_BODY,
        read=True,
    ),
    E(
        "GET",
        "/retention",
        analysis.retention_report,
        "Cohort retention analysis",
        "retention",
        query=analysis.RETENTION_QUERY,
        read=True,
    ),
    E(
        "POST",
        "/paths",
        analysis.paths_report,
        "Session paths to a goal",
        "paths",
        body=analysis.PATHS_BODY,
        read=True,
    ),
    E(
        "GET",
        "/funnels",
        analysis.list_saved,
        "List saved funnels",
        "funnels",
        query={"project": "project name or id"},
        read=True,
    ),
    E("POST", "/funnels", analysis.create_saved, "Save a funnel", "funnels", status=201),
    E(
        "GET",
        "/funnels/{id}",
        analysis.get_saved,
        "A saved funnel with its results",
        "funnels",
        query=analysis.SAVED_FUNNEL_QUERY,
        read=True,
    ),
    E("PATCH", "/funnels/{id}", analysis.update_saved, "Change a saved funnel", "funnels"),
    E("DELETE", "/funnels/{id}", analysis.delete_saved, "Soft-delete a saved funnel", "funnels"),
    E(
        "GET",
        "/sessions",
        more.sessions,
        "List sessions",
        "sessions",
        query=more.SESSIONS_QUERY,
        read=True,
    ),
    E(
        "GET",
        "/sessions/distribution",
        more.session_distribution,
        "Session duration histogram",
        "sessions",
        query=more.RANGE_QUERY,
        read=True,
    ),
    E(
        "GET",
        "/pages",
        more.pages,
        "Entry/exit page stats",
        "pages",
        query=more.PAGES_QUERY,
        read=True,
    ),
    E(
        "GET",
        "/insights",
        more.insights,
        "Period-over-period comparison",
        "insights",
        query=more.INSIGHTS_QUERY,
        read=True,
    ),
    E(
        "GET",
        "/heatmap",
        more.heatmap,
        "Day-of-week x hour traffic grid (UTC)",
        "heatmap",
        query=more.HEATMAP_QUERY,
        read=True,
    ),
    E(
        "GET",
        "/bot-traffic",
        more.bot_traffic,
        "Automated traffic dropped from analytics",
        "bots",
        query=more.BOTS_QUERY,
        read=True,
    ),
    E(
        "GET",
        "/project-context",
        reads.get_project_context,
        "Goals, activation events, glossary",
        "projects",
    ),
    E("PUT", "/project-context", reads.put_project_context, "Set the project context", "projects"),
    E("GET", "/live", live.live_snapshot, "Live snapshot (real-time)", "live", read=True),
    E("GET", "/stream", live.stream, "Live event stream (SSE)", "stream", read=True),
    # experiments (/experiments/config before /experiments/{id})
    E(
        "GET",
        "/experiments/config",
        exps.experiment_config,
        "Active experiments for the tracker (public)",
        "experiments",
        "write_key",
        query={"token": "the project's write key (aat_…)"},
    ),
    E(
        "POST",
        "/experiments",
        exps.create_experiment,
        "Create an A/B experiment",
        "experiments",
        status=201,
        body=exps.CREATE_BODY,
    ),
    E(
        "GET",
        "/experiments",
        exps.list_experiments,
        "List a project's experiments",
        "experiments",
        query={"project": "project name or id"},
        read=True,
    ),
    E(
        "GET",
        "/experiments/{id}",
        exps.get_experiment,
        "Experiment config with live results",
        "experiments",
        read=True,
    ),
    E(
        "PATCH",
        "/experiments/{id}",
        exps.update_experiment,
        "Pause, resume or complete an experiment",
        "experiments",
        body=exps.UPDATE_BODY,
    ),
    E(
        "DELETE",
        "/experiments/{id}",
        exps.delete_experiment,
        "Delete an experiment's config (events are kept)",
        "experiments",
    ),
]


def build_routes(services: Services) -> list[BaseRoute]:
    endpoints = list(ENDPOINTS)
    spec = build_openapi(endpoints)

    async def openapi(request: Request) -> Response:
        return json_response(spec)

    routes: list[BaseRoute] = [
        Route(ep.path, charged(ep.handler) if ep.read else ep.handler, methods=[ep.method])
        for ep in endpoints
    ]
    routes.append(Route("/openapi.json", openapi, methods=["GET"]))
    routes.extend(web_pages.ROUTES)  # HTML: sign up/in/out, claim
    routes.extend(web_dashboard.ROUTES)  # HTML: projects, project pages, their static files
    return routes
