"""Saved funnel definitions: one store shared by the HTTP API, the MCP tools and the dashboard.

A definition belongs to a project and holds 2 to 10 steps ``{kind: "event"|"pageview", match,
label?}`` (``match`` is an event name or a page path, exact or ending with one ``*`` for a
prefix) and a conversion window of 1 minute to 90 days (7 days by default), as Convalytics
defines funnels. Each is a MetaStore document of kind ``"funnel"`` owned by the project id.
Delete is soft: the document stays with ``deleted_at`` set and disappears from every read.

Every lookup by id takes the caller's account id, and a funnel of another account's project
reads as missing, so a surface cannot reach another tenant's funnel by guessing its id.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from agentlytics.errors import NotFound, ValidationError
from agentlytics.model.project import Project
from agentlytics.projects import keys
from agentlytics.storage.ports import MetaStore

KIND = "funnel"
MIN_STEPS, MAX_STEPS = 2, 10
DEFAULT_WINDOW_MS = 7 * 24 * 3_600_000
MIN_WINDOW_MS, MAX_WINDOW_MS = 60_000, 90 * 24 * 3_600_000
_PATCHABLE = ("name", "steps", "conversion_window_ms")
_STEP_HELP = (
    "each step is {kind: 'event'|'pageview', match, label?}; match is an event name or a page "
    "path, exact or ending with one '*' (a prefix)"
)


class FunnelStepDef(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    kind: str
    match: str
    label: str | None = None


class SavedFunnel(msgspec.Struct, kw_only=True):
    id: str
    project_id: str
    name: str
    steps: list[FunnelStepDef]
    conversion_window_ms: int = DEFAULT_WINDOW_MS
    created_at: int = 0
    updated_at: int = 0
    deleted_at: int | None = None

    def as_json(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]

    def step_dicts(self) -> list[dict[str, Any]]:
        """The steps as the query engine's ``compute_funnel`` takes them."""
        return [msgspec.to_builtins(step) for step in self.steps]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _bad_steps(message: str) -> ValidationError:
    return ValidationError(message, code="INVALID_FUNNEL_STEPS")


def check_steps(raw: Any) -> list[FunnelStepDef]:
    """Raises:
    ValidationError: INVALID_FUNNEL_STEPS, saying what a step looks like.
    """
    if not isinstance(raw, list) or not MIN_STEPS <= len(raw) <= MAX_STEPS:
        raise _bad_steps(f"steps must be a list of {MIN_STEPS} to {MAX_STEPS} steps; {_STEP_HELP}")
    steps = []
    for number, item in enumerate(raw, 1):
        try:
            step = msgspec.convert(item, FunnelStepDef)
        except msgspec.ValidationError as exc:
            raise _bad_steps(f"step {number}: {exc}; {_STEP_HELP}") from None
        if step.kind not in ("event", "pageview"):
            raise _bad_steps(f"step {number}: kind must be 'event' or 'pageview'")
        match = step.match.strip()
        if not match or len(match) > 500 or "*" in match[:-1]:
            raise _bad_steps(
                f"step {number}: match must be 1-500 characters, with '*' only at the end"
            )
        if step.label is not None and len(step.label) > 200:
            raise _bad_steps(f"step {number}: label is at most 200 characters")
        steps.append(FunnelStepDef(step.kind, match, step.label or None))
    return steps


def check_name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw.strip()) > 100:
        raise ValidationError("name must be 1-100 characters", code="INVALID_NAME")
    return raw.strip()


def check_window(raw: Any) -> int:
    if raw is None:
        return DEFAULT_WINDOW_MS
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValidationError(
            "conversion_window_ms must be whole milliseconds", code="INVALID_PARAMETER"
        )
    if not MIN_WINDOW_MS <= raw <= MAX_WINDOW_MS:
        raise ValidationError(
            f"conversion_window_ms must be between {MIN_WINDOW_MS} (1 minute) and "
            f"{MAX_WINDOW_MS} (90 days)",
            code="INVALID_PARAMETER",
        )
    return raw


def create_funnel(
    meta: MetaStore,
    project: Project,
    *,
    name: Any,
    steps: Any,
    conversion_window_ms: Any = None,
) -> SavedFunnel:
    """Save a new definition for a project the caller has already resolved.

    Raises:
        ValidationError: INVALID_NAME, INVALID_FUNNEL_STEPS or INVALID_PARAMETER.
    """
    now = _now_ms()
    funnel = SavedFunnel(
        id=keys.new_id("fnl"),
        project_id=project.id,
        name=check_name(name),
        steps=check_steps(steps),
        conversion_window_ms=check_window(conversion_window_ms),
        created_at=now,
        updated_at=now,
    )
    meta.put_doc(KIND, funnel.id, project.id, funnel.as_json())
    return funnel


def list_funnels(meta: MetaStore, project: Project) -> list[SavedFunnel]:
    """The project's live definitions, oldest first."""
    found = [msgspec.convert(doc, SavedFunnel) for doc in meta.list_docs(KIND, project.id)]
    return [f for f in found if f.deleted_at is None]


def get_funnel(
    meta: MetaStore, account_id: str, funnel_id: str, *, project_id: str | None = None
) -> SavedFunnel:
    """A live definition in one of the account's projects (and in ``project_id`` if given).

    Raises:
        NotFound: no such funnel for this account (deleted, or another tenant's).
    """
    doc = meta.get_doc(KIND, funnel_id) if funnel_id else None
    funnel = msgspec.convert(doc, SavedFunnel) if doc is not None else None
    project = meta.get_project(funnel.project_id) if funnel is not None else None
    if (
        funnel is None
        or funnel.deleted_at is not None
        or project is None
        or project.deleted_at is not None
        or project.account_id != account_id
        or (project_id is not None and funnel.project_id != project_id)
    ):
        raise NotFound(f"no funnel {funnel_id!r} in this account; GET /funnels lists them")
    return funnel


def update_funnel(
    meta: MetaStore,
    account_id: str,
    funnel_id: str,
    patch: dict[str, Any],
    *,
    project_id: str | None = None,
) -> SavedFunnel:
    """Change a definition's name, steps or window.

    Raises:
        NotFound: as :func:`get_funnel`.
        ValidationError: INVALID_FIELDS, INVALID_NAME, INVALID_FUNNEL_STEPS, INVALID_PARAMETER.
    """
    funnel = get_funnel(meta, account_id, funnel_id, project_id=project_id)
    unknown = sorted(set(patch) - set(_PATCHABLE))
    if unknown:
        raise ValidationError(
            f"cannot change {unknown}; changeable fields: {list(_PATCHABLE)}",
            code="INVALID_FIELDS",
        )
    if "name" in patch:
        funnel.name = check_name(patch["name"])
    if "steps" in patch:
        funnel.steps = check_steps(patch["steps"])
    if "conversion_window_ms" in patch:
        funnel.conversion_window_ms = check_window(patch["conversion_window_ms"])
    funnel.updated_at = _now_ms()
    meta.put_doc(KIND, funnel.id, funnel.project_id, funnel.as_json())
    return funnel


def delete_funnel(
    meta: MetaStore, account_id: str, funnel_id: str, *, project_id: str | None = None
) -> SavedFunnel:
    """Soft delete: the definition stays stored but no read returns it again.

    Raises:
        NotFound: as :func:`get_funnel`.
    """
    funnel = get_funnel(meta, account_id, funnel_id, project_id=project_id)
    funnel.deleted_at = funnel.updated_at = _now_ms()
    meta.put_doc(KIND, funnel.id, funnel.project_id, funnel.as_json())
    return funnel
