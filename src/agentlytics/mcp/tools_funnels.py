"""Funnels and retention: Convalytics' saved-funnel tools (list, get, compute, create, update,
delete), an ad hoc funnel as ``POST /funnel`` runs it, and cohort retention."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from agentlytics.mcp.args import ProjectRef, Since, SinceMs, UntilMs
from agentlytics.mcp.kit import Toolkit, convert
from agentlytics.projects import funnels as saved
from agentlytics.query import digest, funnels
from agentlytics.query import retention as retention_q


class FunnelStep(TypedDict):
    """One step of a saved funnel."""

    kind: Literal["event", "pageview"]
    match: Annotated[str, Field(description="Event name or page path; a trailing * is a prefix.")]
    label: NotRequired[str]


Steps = Annotated[list[FunnelStep], Field(min_length=2, max_length=10, description="In order.")]
Window = Annotated[
    int | None,
    Field(description="Max time from step 1 to the last step, ms: 1 min-90 days (default 7 d)."),
]
FunnelId = Annotated[str, Field(description="Funnel id (list_funnels lists them).")]
_REQUEST_FIELDS = frozenset(funnels.FunnelRequest.__struct_fields__) - {"project"}
CountBy = Annotated[
    Literal["user_id", "session_id"], Field(description="Count people or sessions.")
]


def register(kit: Toolkit) -> None:
    engine = kit.engine
    meta = kit.services.meta

    def load(project: str, funnel_id: str) -> tuple[Any, saved.SavedFunnel]:
        p = kit.project(project)
        return p, saved.get_funnel(meta, p.account_id or "", funnel_id, project_id=p.id)

    @kit.tool(title="List saved funnels")
    def list_funnels(project: ProjectRef) -> dict[str, Any]:
        """The project's saved funnel definitions: id, name, steps, conversion window."""
        p = kit.project(project)
        return {"project": p.name, "funnels": [f.as_json() for f in saved.list_funnels(meta, p)]}

    @kit.tool(title="Get a saved funnel")
    def get_funnel(project: ProjectRef, funnelId: FunnelId) -> dict[str, Any]:
        """One saved funnel definition; compute_funnel runs it."""
        p, funnel = load(project, funnelId)
        return {"project": p.name, **funnel.as_json()}

    @kit.tool(title="Compute a saved funnel")
    def compute_funnel(
        project: ProjectRef,
        funnelId: FunnelId,
        since: SinceMs = None,
        until: UntilMs = None,
        count_by: CountBy = "user_id",
    ) -> dict[str, Any]:
        """Run a saved funnel over a period: per step the visitors who reached it, conversion
        from the previous step and from the start, and the average time to convert."""
        p, funnel = load(project, funnelId)
        results = funnels.compute_funnel(
            engine,
            p,
            digest.ms_period(p, since, until),
            funnel.step_dicts(),
            conversion_window_ms=funnel.conversion_window_ms,
            count_by=count_by,
        )
        return {"project": p.name, "funnel": funnel.as_json(), "results": results}

    @kit.tool("write", title="Create a saved funnel")
    def create_funnel(
        project: ProjectRef,
        name: Annotated[str, Field(description="1-100 characters.")],
        steps: Steps,
        conversionWindowMs: Window = None,
    ) -> dict[str, Any]:
        """Save a funnel of 2-10 steps, each an event name or a page path (kind event or
        pageview). Needs a full-scope API key."""
        p = kit.project(project)
        funnel = saved.create_funnel(
            meta, p, name=name, steps=list(steps), conversion_window_ms=conversionWindowMs
        )
        return {"project": p.name, **funnel.as_json()}

    @kit.tool("update", title="Update a saved funnel")
    def update_funnel(
        project: ProjectRef,
        funnelId: FunnelId,
        name: Annotated[str | None, Field(description="New name.")] = None,
        steps: Annotated[list[FunnelStep] | None, Field(description="New steps (2-10).")] = None,
        conversionWindowMs: Window = None,
    ) -> dict[str, Any]:
        """Change a saved funnel's name, steps or conversion window (only what is given).
        Needs a full-scope API key."""
        p = kit.project(project)
        patch = {"name": name, "steps": steps, "conversion_window_ms": conversionWindowMs}
        given = {k: v for k, v in patch.items() if v is not None}
        funnel = saved.update_funnel(meta, p.account_id or "", funnelId, given, project_id=p.id)
        return {"project": p.name, **funnel.as_json()}

    @kit.tool("delete", title="Delete a saved funnel")
    def delete_funnel(project: ProjectRef, funnelId: FunnelId) -> dict[str, Any]:
        """Delete a saved funnel (a soft delete: it disappears from every read). Needs a
        full-scope API key."""
        p = kit.project(project)
        funnel = saved.delete_funnel(meta, p.account_id or "", funnelId, project_id=p.id)
        return {"ok": True, "project": p.name, "id": funnel.id, "deletedAt": funnel.deleted_at}

    @kit.tool(title="Ad hoc funnel")
    def funnel(
        project: ProjectRef,
        steps: Annotated[
            list[dict[str, Any]],
            Field(
                description="2-8 steps in order: {event, filters?: [{property, op, value}]} or "
                "{kind: event|pageview, match, label?}."
            ),
        ],
        conversion_window_hours: Annotated[int, Field(ge=1, le=8760)] = 168,
        since: Since = None,
        until: Annotated[str | None, Field(description="End (default now).")] = None,
        count_by: CountBy = "user_id",
        breakdown: Annotated[str | None, Field(description="Split by this property.")] = None,
        breakdown_limit: Annotated[int, Field(ge=1, le=50)] = 10,
    ) -> dict[str, Any]:
        """An ordered funnel without saving it (POST /funnel): users (or sessions) per step,
        conversion and drop-off, time to the next step, optionally split by a property.
        Default period: the last 30 days."""
        p = kit.project(project)
        given = {k: v for k, v in locals().items() if k in _REQUEST_FIELDS}
        req = convert(given, funnels.FunnelRequest)
        spec = funnels.spec_from_request(req)
        period = engine.period(p, req.since, req.until)
        return {"project": p.name, **funnels.run_funnel(engine, p, period, spec)}

    @kit.tool(title="Retention cohorts")
    def retention(
        project: ProjectRef,
        period: Annotated[
            Literal["day", "week", "month"], Field(description="Cohort size.")
        ] = "week",
        cohorts: Annotated[int, Field(ge=1, le=30, description="Day ≤30, week/month ≤12.")] = 8,
        event: Annotated[str | None, Field(description="Cohort = first time doing this.")] = None,
        returning_event: Annotated[
            str | None, Field(description="What counts as coming back (default: event).")
        ] = None,
        until: Annotated[str | None, Field(description="End of the last cohort.")] = None,
    ) -> dict[str, Any]:
        """Cohort retention: users grouped by when they first showed up (or first did
        `event`), and the share who came back in each later period."""
        p = kit.project(project)
        spec = retention_q.check_spec(
            retention_q.RetentionSpec(period, cohorts, event, returning_event)
        )
        end = retention_q.parse_until(until, p.timezone)
        return {"project": p.name, **retention_q.run_retention(engine, p, spec, until=end)}
