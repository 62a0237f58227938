"""A/B experiments: list, results (Bayesian, with a recommendation), create, change status,
delete. The service is the one the HTTP API uses, so its tracker-config cache stays right."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from agentlytics.errors import NotFound
from agentlytics.experiments.service import Experiment, ExperimentService, experiment_json
from agentlytics.mcp.args import ProjectRef
from agentlytics.mcp.kit import Toolkit
from agentlytics.model.project import Project

ExperimentId = Annotated[str, Field(description="Experiment id (experiments_list lists them).")]


def register(kit: Toolkit) -> None:
    def service() -> ExperimentService:
        return kit.services.experiments

    def load(project: str, experiment: str) -> tuple[Experiment, Project]:
        p = kit.project(project)
        exp, owner = service().get(kit.principal().account, experiment)
        if owner.id != p.id:
            raise NotFound(
                f"no experiment {experiment!r} in project {p.name!r}; experiments_list lists them",
                code="EXPERIMENT_NOT_FOUND",
            )
        return exp, p

    @kit.tool(title="List experiments")
    def experiments_list(project: ProjectRef) -> dict[str, Any]:
        """The project's A/B experiments: id, variants and weights, goal event, status, winner."""
        p = kit.project(project)
        found = service().list(p)
        return {"project": p.name, "experiments": [experiment_json(e, p) for e in found]}

    @kit.tool(title="Experiment results")
    def experiment_results(project: ProjectRef, experiment: ExperimentId) -> dict[str, Any]:
        """An experiment's config and live results: per variant exposures, users, conversions
        and rate, probability to be best, lift, sample-ratio check and a recommendation."""
        exp, p = load(project, experiment)
        return {**experiment_json(exp, p), "results": service().results(exp, p)}

    @kit.tool("write", title="Create an experiment")
    def create_experiment(
        project: ProjectRef,
        name: Annotated[str, Field(description="1-64 letters, digits, '_' or '-'.")],
        variants: Annotated[
            list[str], Field(min_length=2, max_length=4, description="Names; first = control.")
        ],
        goal_event: Annotated[str, Field(description="The event that counts as a conversion.")],
        weights: Annotated[
            list[int] | None, Field(description="Percent per variant, summing to 100.")
        ] = None,
    ) -> dict[str, Any]:
        """Start an A/B experiment; the tracker (aa.experiment) and SDKs assign variants.
        Needs a full-scope API key."""
        p = kit.project(project)
        exp = service().create(
            p, name=name, variants=variants, goal_event=goal_event, weights=weights
        )
        return experiment_json(exp, p)

    @kit.tool("update", title="Pause, resume or complete an experiment")
    def update_experiment(
        project: ProjectRef,
        experiment: ExperimentId,
        status: Literal["active", "paused", "completed"],
        winner: Annotated[
            str | None, Field(description="The winning variant, when completing.")
        ] = None,
    ) -> dict[str, Any]:
        """Change an experiment's status (active ↔ paused, either → completed, which is final)
        and name the winner on completion. Needs a full-scope API key."""
        exp, p = load(project, experiment)
        exp, p = service().update(kit.principal().account, exp.id, status=status, winner=winner)
        return experiment_json(exp, p)

    @kit.tool("delete", title="Delete an experiment")
    def delete_experiment(project: ProjectRef, experiment: ExperimentId) -> dict[str, Any]:
        """Delete an experiment's config; its exposure and goal events stay. Needs a
        full-scope API key."""
        exp, p = load(project, experiment)
        service().delete(kit.principal().account, exp.id)
        return {"ok": True, "project": p.name, "deleted": exp.id}
