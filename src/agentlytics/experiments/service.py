"""Experiment configs: validation, status transitions, tenancy, the tracker's config, results.

Configs are MetaStore documents of kind ``experiment`` owned by their project. Every lookup by
id takes the caller's account and answers EXPERIMENT_NOT_FOUND for another tenant's experiment,
so no surface can tell it exists. Callable without HTTP (the MCP tools use it directly).
"""

from __future__ import annotations

import re
import time
from typing import Any, Literal

import msgspec

from agentlytics.errors import Conflict, NotFound, ValidationError
from agentlytics.experiments import assign, results, stats
from agentlytics.model.project import Account, Project
from agentlytics.projects.keys import new_id
from agentlytics.query.engine import QueryEngine
from agentlytics.storage.ports import MetaStore

Status = Literal["active", "paused", "completed"]
DOC_KIND = "experiment"
NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MIN_VARIANTS, MAX_VARIANTS = 2, 4
MAX_GOAL_EVENT = 256
#: allowed status moves; ``completed`` is terminal
TRANSITIONS: dict[str, frozenset[str]] = {
    "active": frozenset({"paused", "completed"}),
    "paused": frozenset({"active", "completed"}),
    "completed": frozenset(),
}
_CONFIG_TTL_S = 5.0


class Variant(msgspec.Struct):
    key: str
    weight: int


class Experiment(msgspec.Struct, kw_only=True):
    id: str
    project_id: str
    account_id: str | None
    name: str
    variants: list[Variant]
    goal_event: str
    status: Status = "active"
    winner: str | None = None
    created_at: int
    updated_at: int
    completed_at: int | None = None

    def variant_for(self, user_id: str) -> str:
        """The variant this user sees (the tracker and the SDK agree)."""
        return assign.variant(
            self.name, user_id, [v.key for v in self.variants], [v.weight for v in self.variants]
        )


def now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def experiment_json(exp: Experiment, project: Project) -> dict[str, Any]:
    """The contract's Experiment object (plus the project's name)."""
    return {
        "id": exp.id,
        "project_id": exp.project_id,
        "project": project.name,
        "account_id": exp.account_id,
        "name": exp.name,
        "variants": [{"key": v.key, "weight": v.weight} for v in exp.variants],
        "goal_event": exp.goal_event,
        "status": exp.status,
        "winner": exp.winner,
        "created_at": _iso(exp.created_at),
        "updated_at": _iso(exp.updated_at),
        "completed_at": _iso(exp.completed_at),
    }


def _invalid_variants(message: str) -> ValidationError:
    return ValidationError(message, code="INVALID_VARIANTS")


def check_variants(variants: Any, weights: Any = None) -> list[Variant]:
    """2-4 distinct variant names with integer weights (1-99) summing to 100.

    ``variants`` is a list of names, or of ``{key, weight}`` objects as this API returns them.
    Without weights the split is equal (``100 // n``, the remainder to the first).

    Raises:
        ValidationError: INVALID_VARIANTS, saying what is wrong.
    """
    if not isinstance(variants, list) or not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        raise _invalid_variants(
            f"variants must be a list of {MIN_VARIANTS}-{MAX_VARIANTS} names, "
            'e.g. ["control", "b"]; the first is the control'
        )
    if weights is None and all(isinstance(v, dict) for v in variants):
        weights = [v.get("weight") for v in variants]
        variants = [v.get("key") for v in variants]
    for name in variants:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise _invalid_variants(
                f"variant {name!r} is not a valid name: use 1-64 letters, digits, '_' or '-'"
            )
    if len({name.lower() for name in variants}) != len(variants):
        raise _invalid_variants("variant names must be distinct (ignoring case)")
    if weights is None:
        weights = assign.equal_weights(len(variants))
    if (
        not isinstance(weights, list)
        or len(weights) != len(variants)
        or not all(isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= 99 for w in weights)
        or sum(weights) != 100
    ):
        raise _invalid_variants(
            f"weights must be {len(variants)} whole numbers from 1 to 99, one per variant in "
            "order, summing to 100 (omit them for an equal split)"
        )
    return [Variant(k, w) for k, w in zip(variants, weights, strict=True)]


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValidationError(
            "name must be 1-64 letters, digits, '_' or '-' (it is the key the tracker uses)",
            code="INVALID_NAME",
        )
    return name


def check_goal_event(goal_event: Any) -> str:
    if not isinstance(goal_event, str) or not goal_event.strip():
        raise ValidationError(
            "goal_event is required: the event name that counts as a conversion",
            code="MISSING_FIELDS",
        )
    if len(goal_event) > MAX_GOAL_EVENT:
        raise ValidationError(
            f"goal_event is at most {MAX_GOAL_EVENT} characters", code="INVALID_FIELD"
        )
    return goal_event


class ExperimentService:
    def __init__(self, meta: MetaStore, query: QueryEngine) -> None:
        self.meta = meta
        self.query = query
        self._configs: dict[str, tuple[float, dict[str, Any]]] = {}

    # configs ----------------------------------------------------------------------------

    def create(
        self,
        project: Project,
        *,
        name: Any,
        variants: Any,
        goal_event: Any,
        weights: Any = None,
    ) -> Experiment:
        """A new active experiment in the project.

        Raises:
            ValidationError: INVALID_NAME, INVALID_VARIANTS, MISSING_FIELDS, INVALID_FIELD.
            Conflict: EXPERIMENT_NAME_EXISTS (names are unique per project, ignoring case).
        """
        given = {"name": name, "variants": variants, "goal_event": goal_event}
        missing = [field for field, value in given.items() if value is None]
        if missing:
            raise ValidationError(
                f"missing {', '.join(missing)}: an experiment needs a name, 2-4 variants "
                "and a goal_event",
                code="MISSING_FIELDS",
            )
        name = check_name(name)
        checked = check_variants(variants, weights)
        goal_event = check_goal_event(goal_event)
        at = now_ms()
        exp = Experiment(
            id=new_id("exp"),
            project_id=project.id,
            account_id=project.account_id,
            name=name,
            variants=checked,
            goal_event=goal_event,
            created_at=at,
            updated_at=at,
        )
        # the document goes first, so a concurrent creator can tell a live claim from a stale one
        self._save(exp)
        if not self._claim_name(exp):
            self.meta.delete_doc(DOC_KIND, exp.id)
            raise Conflict(
                f"an experiment named {name!r} exists in this project; "
                "pick another name or delete the old one",
                code="EXPERIMENT_NAME_EXISTS",
            )
        self._configs.pop(project.id, None)
        return exp

    def _claim_name(self, exp: Experiment) -> bool:
        """Take the name in the project atomically (a MetaStore compare-and-set: safe across
        workers)."""
        key = f"experiment_name:{exp.project_id}:{exp.name.lower()}"
        expected: str | None = None
        for _ in range(3):
            if self.meta.compare_and_set_state(key, expected, exp.id):
                return True
            expected = self.meta.get_state(key)
            if expected is not None and self.meta.get_doc(DOC_KIND, expected) is not None:
                return False
            # the holder was deleted: take the name over from it
        return False

    def list(self, project: Project) -> list[Experiment]:
        docs = self.meta.list_docs(DOC_KIND, project.id)
        found = [msgspec.convert(doc, Experiment) for doc in docs]
        return sorted(found, key=lambda e: (e.created_at, e.id))

    def get(self, account: Account, experiment_id: str) -> tuple[Experiment, Project]:
        """An experiment of one of this account's live projects, with its project.

        Raises:
            NotFound: EXPERIMENT_NOT_FOUND, also for another account's experiment.
        """
        doc = self.meta.get_doc(DOC_KIND, experiment_id) if experiment_id else None
        if doc is not None:
            exp = msgspec.convert(doc, Experiment)
            project = self.meta.get_project(exp.project_id)
            if project and project.deleted_at is None and project.account_id == account.id:
                return exp, project
        raise NotFound(
            f"no experiment {experiment_id!r} in this account; "
            "GET /experiments?project=… lists them",
            code="EXPERIMENT_NOT_FOUND",
        )

    def update(
        self, account: Account, experiment_id: str, *, status: Any, winner: Any = None
    ) -> tuple[Experiment, Project]:
        """Move an experiment to a new status (and name a winner when completing it).

        Raises:
            NotFound: EXPERIMENT_NOT_FOUND.
            ValidationError: MISSING_FIELDS, INVALID_EXPERIMENT_STATUS, INVALID_VARIANTS.
        """
        exp, project = self.get(account, experiment_id)
        if status is None:
            raise ValidationError(
                "status is required: active, paused or completed", code="MISSING_FIELDS"
            )
        if status not in TRANSITIONS:
            raise ValidationError(
                f"unknown status {status!r}; use active, paused or completed",
                code="INVALID_EXPERIMENT_STATUS",
            )
        allowed = TRANSITIONS[exp.status]
        if status not in allowed:
            moves = " or ".join(sorted(allowed)) if allowed else "nothing (it is final)"
            raise ValidationError(
                f"cannot move a {exp.status} experiment to {status}; it can move to {moves}",
                code="INVALID_EXPERIMENT_STATUS",
            )
        if winner is not None:
            if status != "completed":
                raise ValidationError(
                    "a winner is declared only when completing (status: completed)",
                    code="INVALID_EXPERIMENT_STATUS",
                )
            keys = [v.key for v in exp.variants]
            if winner not in keys:
                raise _invalid_variants(f"winner must be one of the variants: {', '.join(keys)}")
        at = now_ms()
        exp.status = status
        exp.updated_at = at
        if status == "completed":
            exp.completed_at = at
            exp.winner = winner
        self._save(exp)
        self._configs.pop(project.id, None)
        return exp, project

    def delete(self, account: Account, experiment_id: str) -> Experiment:
        """Remove the config; the exposure and goal events stay in the event store."""
        exp, project = self.get(account, experiment_id)
        self.meta.delete_doc(DOC_KIND, exp.id)
        self._configs.pop(project.id, None)
        return exp

    def _save(self, exp: Experiment) -> None:
        self.meta.put_doc(DOC_KIND, exp.id, exp.project_id, msgspec.to_builtins(exp))

    def tracker_config(self, project: Project) -> dict[str, Any]:
        """``{experiments: [{key, variants: [{key, weight}]}]}``: active experiments only.

        Every page load asks for it, so it is cached for a few seconds per worker.
        """
        cached = self._configs.get(project.id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        config = {
            "experiments": [
                {
                    "key": exp.name,
                    "variants": [{"key": v.key, "weight": v.weight} for v in exp.variants],
                }
                for exp in self.list(project)
                if exp.status == "active"
            ]
        }
        if len(self._configs) > 10_000:
            self._configs.clear()
        self._configs[project.id] = (time.monotonic() + _CONFIG_TTL_S, config)
        return config

    # results ----------------------------------------------------------------------------

    def results(self, exp: Experiment, project: Project) -> dict[str, Any]:
        """The contract's ``results`` plus ``sequential``, ``srm`` and the ``period`` counted.

        Blocking (it queries the event store): call it from a worker thread.
        """
        period = results.window(exp, tz=project.timezone)
        counts = results.tally(self.query, project, exp, period)
        analysis = stats.analyze(counts.variants)
        analysis["srm"]["users_in_several_variants"] = counts.users_in_several_variants
        analysis["period"] = period.as_json()
        return analysis

    def report(self, account: Account, experiment_id: str) -> dict[str, Any]:
        """``GET /experiments/{id}``: the config and its live results."""
        exp, project = self.get(account, experiment_id)
        return {**experiment_json(exp, project), "results": self.results(exp, project)}
