"""Convalytics' read tools (contracts.md A1 "MCP"): projects, usage, pages, referrers,
counts, recent events, one user's activity and the weekly digest. Times are unix ms."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from agentlytics.mcp.args import ProjectRef, User
from agentlytics.mcp.args import SinceMs as Since
from agentlytics.mcp.args import UntilMs as Until
from agentlytics.mcp.kit import Toolkit
from agentlytics.model.project import Project
from agentlytics.query import digest, overview


def project_json(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "writeKey": project.write_key,
        "timezone": project.timezone,
        "allowedOrigins": project.allowed_origins,
        "siteUrl": project.site_url,
        "createdAt": project.created_at,
    }


def register(kit: Toolkit) -> None:
    engine = kit.engine

    @kit.tool(title="List projects")
    def list_projects() -> dict[str, Any]:
        """List the projects this API key can read: id, name, write key (public, for sending
        events), time zone. Every other tool takes one of these as `project`."""
        return {"projects": [project_json(p) for p in kit.projects()]}

    @kit.tool(title="Usage this month")
    def get_usage() -> dict[str, Any]:
        """Events stored this calendar month (UTC) per project, split into custom events and
        page views (page views are free), with the plan and the monthly event limit."""
        principal = kit.principal()
        return overview.usage(
            engine,
            kit.projects(),
            monthly_limit=kit.services.settings.max_events_per_month,
            tier=principal.account.tier,
        )

    @kit.tool(title="Top pages")
    def top_pages(
        project: ProjectRef,
        since: Since = None,
        until: Until = None,
        limit: Annotated[int, Field(ge=1, le=50, description="Pages to return.")] = 20,
        user: User = None,
    ) -> dict[str, Any]:
        """The most viewed page paths in a period, with page views and distinct visitors."""
        p = kit.project(project)
        period = digest.ms_period(p, since, until)
        return digest.top_pages(engine, p, period, limit=limit, user=user)

    @kit.tool(title="Top referrers")
    def top_referrers(
        project: ProjectRef,
        since: Since = None,
        until: Until = None,
        limit: Annotated[int, Field(ge=1, le=50, description="Referrers to return.")] = 10,
        user: User = None,
    ) -> dict[str, Any]:
        """Where visitors come from: referring hosts by page views, "(direct)" for visits
        with no referrer. Clicks between the site's own pages are not referrals."""
        p = kit.project(project)
        period = digest.ms_period(p, since, until)
        return digest.top_referrers(engine, p, period, limit=limit, user=user)

    @kit.tool(title="Count page views")
    def pageviews_count(
        project: ProjectRef, since: Since = None, until: Until = None, user: User = None
    ) -> dict[str, Any]:
        """The number of page views and distinct visitors in a period."""
        p = kit.project(project)
        return digest.pageviews_count(engine, p, digest.ms_period(p, since, until), user=user)

    @kit.tool(title="Count events")
    def events_count(
        project: ProjectRef,
        name: Annotated[
            str | None, Field(description="Event name. Default: all custom events.")
        ] = None,
        since: Since = None,
        until: Until = None,
        user: User = None,
    ) -> dict[str, Any]:
        """How many custom events (page views excluded) were tracked in a period, or how many
        of one event name, with distinct users. `truncated` is always false: counts are exact."""
        p = kit.project(project)
        period = digest.ms_period(p, since, until)
        return digest.events_count(engine, p, period, name=name, user=user)

    @kit.tool(title="Recent events")
    def recent_events(
        project: ProjectRef,
        limit: Annotated[int, Field(ge=1, le=100, description="Events to return.")] = 20,
        redact: Annotated[
            bool,
            Field(description="Null userEmail/userName and empty props (default true)."),
        ] = True,
        name: Annotated[str | None, Field(description="Only events of this name.")] = None,
        since: Since = None,
        until: Until = None,
        user: User = None,
    ) -> dict[str, Any]:
        """The newest custom events, newest first: name, time, user and session ids, path.
        Personal data is redacted unless `redact` is false."""
        p = kit.project(project)
        period = digest.ms_period(p, since, until)
        return digest.recent_events(
            engine, p, period, limit=limit, redact=redact, name=name, user=user
        )

    @kit.tool(title="One user's activity")
    def user_activity(
        project: ProjectRef,
        user: Annotated[
            str,
            Field(description="A userEmail (case-insensitive) or a visitor/user id (exact)."),
        ],
        since: Since = None,
        until: Until = None,
    ) -> dict[str, Any]:
        """A snapshot of one person: identity (ids, e-mail, name, first and last seen),
        page view / event / session counts, top pages and events, and 20 most recent events."""
        p = kit.project(project)
        return digest.user_activity(engine, p, digest.ms_period(p, since, until), user=user)

    @kit.tool(title="Weekly digest")
    def weekly_digest(
        project: ProjectRef,
        days: Annotated[int, Field(ge=1, le=90, description="Length of the period.")] = 7,
        compare: Annotated[bool, Field(description="Compare with the period just before.")] = True,
    ) -> dict[str, Any]:
        """A project summary for the last `days` days: visitors, page views, sessions, bounce
        rate, average session duration, top 5 pages, referrers and events, the custom event
        total, and (with `compare`) the change from the previous period."""
        return digest.weekly_digest(engine, kit.project(project), days=days, compare=compare)
