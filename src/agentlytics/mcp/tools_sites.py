"""Agent Analytics' MCP tools (contracts.md A2): create a project, overviews of one site or
all of them, bot traffic, and session paths to a goal."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from agentlytics.mcp.args import ProjectRef, Since, Until
from agentlytics.mcp.kit import Toolkit
from agentlytics.query import bots, overview, paths, reports


def register(kit: Toolkit) -> None:
    engine = kit.engine

    @kit.tool("write", title="Create a project", idempotent=True)
    def create_project(
        name: Annotated[
            str, Field(description="1-64 letters, digits, '.', '_' or '-'; e.g. my-site.")
        ],
        timezone: Annotated[
            str, Field(description="IANA time zone reports use, e.g. Europe/Paris.")
        ] = "UTC",
        allowed_origins: Annotated[
            str, Field(description="'*' or comma-separated origins browsers may send from.")
        ] = "*",
    ) -> dict[str, Any]:
        """Create a project (or return the existing one of that name) and its public write
        key (project_token), which the tracker (data-token) and SDKs send events with.
        Needs a full-scope API key."""
        account = kit.principal().account
        project, created = kit.services.projects.create_project(
            account, name, allowed_origins=allowed_origins, timezone=timezone
        )
        return {
            "id": project.id,
            "name": project.name,
            "project_token": project.write_key,
            "timezone": project.timezone,
            "allowed_origins": project.allowed_origins,
            "existing": not created,
        }

    @kit.tool(title="All sites overview")
    def all_sites_overview(since: Since = None, until: Until = None) -> dict[str, Any]:
        """Every project of this account side by side: events, unique users, sessions and page
        views in the period, busiest first, with totals."""
        return overview.sites_overview(engine, kit.projects(), since, until)

    @kit.tool(title="Analytics overview")
    def analytics_overview(
        project: ProjectRef,
        since: Since = None,
        until: Until = None,
        group_by: Annotated[
            Literal["hour", "day", "week", "month"], Field(description="Time series bucket.")
        ] = "day",
    ) -> dict[str, Any]:
        """One project's stats: unique users and events (totals and a time series), events by
        name, and sessions (count, bounce rate, average duration, pages per session)."""
        p = kit.project(project)
        return reports.stats(engine, p, engine.period(p, since, until), group_by)

    @kit.tool(title="Bot traffic overview")
    def bot_traffic_overview(
        project: ProjectRef,
        since: Since = None,
        until: Until = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="Bots (actors) to list.")] = 20,
    ) -> dict[str, Any]:
        """Automated traffic dropped from a project's analytics: totals, per category
        (ai_agent, search_crawler, social_preview, monitoring_perf), top bots, daily series."""
        p = kit.project(project)
        return bots.bot_traffic(engine, p, engine.period(p, since, until), limit=limit)

    @kit.tool(title="All sites bot traffic")
    def all_sites_bot_traffic(since: Since = None, until: Until = None) -> dict[str, Any]:
        """Automated traffic dropped at ingest across every project of this account, per
        project and category, with totals."""
        return overview.sites_bot_traffic(engine, kit.projects(), since, until)

    @kit.tool(title="Session paths to a goal")
    def analytics_paths(
        project: ProjectRef,
        goal_event: Annotated[str, Field(description="The event that counts as success.")],
        since: Annotated[
            Literal["7d", "14d", "30d", "90d"], Field(description="How far back.")
        ] = "30d",
        max_steps: Annotated[int, Field(ge=1, le=5, description="Steps kept per path.")] = 5,
        entry_limit: Annotated[int, Field(ge=1, le=20, description="Entry pages.")] = 10,
        path_limit: Annotated[int, Field(ge=1, le=10, description="Paths per entry.")] = 5,
        candidate_session_cap: Annotated[
            int, Field(ge=100, le=10_000, description="Newest sessions analysed.")
        ] = 5000,
    ) -> dict[str, Any]:
        """How sessions move from their entry page to `goal_event`: per entry page, the most
        common paths (pages and events) ending in goal, drop_off or truncated, and exit pages."""
        p = kit.project(project)
        spec = paths.check_spec(
            paths.PathsSpec(
                goal_event=goal_event,
                since=since,
                max_steps=max_steps,
                entry_limit=entry_limit,
                path_limit=path_limit,
                candidate_session_cap=candidate_session_cap,
            )
        )
        return {
            "project": p.name,
            **paths.run_paths(engine, p, engine.period(p, since, None), spec),
        }
