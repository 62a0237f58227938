"""Projects made with no account (``POST /api/provision``), and claiming them later.

An agent provisions a project and starts sending events at once; the project has no
account and a claim token. A person opening ``/claim/{token}`` signs in and the project
joins their account; from then on the token is spent (a second claim answers 410).

Limits, as Convalytics sets them: a global number of provisions per minute and a number
of new unclaimed projects per client IP per hour. Provisioning again with the same
deployment slug returns the same project and charges neither limit past the global one.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from agentlytics.errors import AgentlyticsError, ForbiddenError, NotFound
from agentlytics.ingest.privacy import VisitorHasher
from agentlytics.limits import charge
from agentlytics.model.project import Account, Project
from agentlytics.projects import keys
from agentlytics.projects.service import ProjectService
from agentlytics.settings import Settings
from agentlytics.storage.ports import Coordinator

DEFAULT_NAME = "Untitled Project"
MAX_NAME_INPUT = 100
MAX_SLUG = 200
_NAME_BUDGET = 56  # leaves room for a "-NNN" suffix within the 64-character rule
_NOT_NAME_CHARS = re.compile(r"[^a-z0-9._-]+")
_claim_lock = threading.Lock()
#: how long a provision waits for another worker creating the same slug's project
_SLUG_WAIT_S = 10.0
#: a slug marker this old with no project was left by a worker that died midway
_SLUG_TAKEOVER_S = 30.0


class ProvisionLimited(AgentlyticsError):
    """Too many unclaimed projects from one client IP this hour."""

    status = 429
    code = "provision_limit_exceeded"


class ProvisionBusy(AgentlyticsError):
    """Another worker is creating the project of the same deployment slug."""

    status = 409
    code = "provision_in_progress"


class ClaimUsed(AgentlyticsError):
    """The claim token was already used: the project belongs to an account."""

    status = 410
    code = "claim_used"


@dataclass(frozen=True, slots=True)
class Provisioned:
    project: Project
    created: bool


def slugify(name: str) -> str:
    """A display name as a project name (``^[a-zA-Z0-9._-]{1,64}$``): "My App!" → "my-app"."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _NOT_NAME_CHARS.sub("-", ascii_name.lower()).strip("-.")
    return slug[:_NAME_BUDGET].rstrip("-.") or "project"


def clean_display_name(name: object) -> str:
    """Convalytics' rule: a trimmed string of at most 100 characters, else the default."""
    if isinstance(name, str) and name.strip():
        return name.strip()[:MAX_NAME_INPUT]
    return DEFAULT_NAME


def clean_slug(slug: object) -> str | None:
    if isinstance(slug, str) and slug.strip():
        return slug.strip()[:MAX_SLUG]
    return None


class Provisioner:
    def __init__(
        self,
        projects: ProjectService,
        coord: Coordinator,
        settings: Settings,
        hasher: VisitorHasher,
    ) -> None:
        self.projects = projects
        self.meta = projects.meta
        self.coord = coord
        self.settings = settings
        self.hasher = hasher
        self._lock = asyncio.Lock()

    async def provision(
        self, name: str, deployment_slug: str | None, client_ip: str | None
    ) -> Provisioned:
        """An unclaimed project (or the one already made for this deployment slug). The
        per-client limit counts ``client_ip`` under a salted key
        (``VisitorHasher.address_key``): the address itself is never kept.

        Raises:
            ForbiddenError: the operator turned open provisioning off.
            RateLimited: over the global provisions per minute.
            ProvisionLimited: over the unclaimed projects per client IP per hour.
        """
        s = self.settings
        if not s.open_provisioning:
            raise ForbiddenError(
                "open provisioning is turned off on this server; ask its operator for a "
                "project write key, or create a project with an API key (POST /projects)",
                code="provisioning_disabled",
            )
        await charge(
            self.coord,
            "provision:global",
            s.provision_rate_global,
            60,
            "Provision rate limit exceeded. Try again in a minute.",
            code="rate_limit_exceeded",
        )
        async with self._lock:
            if deployment_slug:
                existing = self.meta.find_project(deployment_slug=deployment_slug)
                if existing is None:
                    existing = await self._take_slug(deployment_slug)
                if existing is not None:
                    return Provisioned(existing, created=False)
            if s.provision_rate_per_ip > 0:
                client = self.hasher.address_key("provision", client_ip)
                key = f"provision:client:{client}"
                decision = await self.coord.hit(key, 1, s.provision_rate_per_ip, 3600)
                if not decision.allowed:
                    raise ProvisionLimited(
                        "Too many projects provisioned from this IP. Try again in an hour."
                    )
            project, _ = self.projects.create_project(
                None,
                self._unique_name(slugify(name)),
                deployment_slug=deployment_slug,
                claim_token=keys.new_claim_token(),
            )
        return Provisioned(project, created=True)

    async def _take_slug(self, slug: str) -> Project | None:
        """Make this worker the one that creates the project of ``slug``: None when it is
        (a marker in the metadata store's state, set only if absent, so that two workers
        racing on one slug create one project), else the project the other worker made.

        A marker older than ``_SLUG_TAKEOVER_S`` with no project (its worker died midway)
        is taken over.

        Raises:
            ProvisionBusy: the other worker has not finished in ``_SLUG_WAIT_S``.
        """
        key = f"provision:slug:{slug}"
        mine = f"{time.time():.3f}:{keys.new_id('w')}"
        deadline = time.monotonic() + _SLUG_WAIT_S
        while True:
            held = self.meta.get_state(key)
            if held is None and self.meta.compare_and_set_state(key, None, mine):
                return None
            found = self.meta.find_project(deployment_slug=slug)
            if found is not None:
                return found
            if (
                held is not None
                and time.time() - float(held.split(":")[0]) > _SLUG_TAKEOVER_S
                and self.meta.compare_and_set_state(key, held, mine)
            ):
                return None
            if time.monotonic() > deadline:
                raise ProvisionBusy(
                    "another request is provisioning this deployment slug right now; "
                    "retry in a few seconds to get its project"
                )
            await asyncio.sleep(0.05)

    def _unique_name(self, base: str, account: Account | None = None) -> str:
        """``base``, or ``base-2``, ``base-3``… : the first name no live project uses.

        Unclaimed projects get names unique on the server; a claimed one only needs a name
        unique in its account.
        """
        for n in range(1, 10_000):
            candidate = base if n == 1 else f"{base}-{n}"
            where = {"name": candidate}
            if account is not None:
                where["account_id"] = account.id
            if self.meta.find_project(**where) is None:
                return candidate
        return f"{base}-{keys.new_id('p')[-8:]}"

    # claiming ---------------------------------------------------------------------------

    def project_for_claim(self, token: str) -> Project:
        """The unclaimed project a claim token opens.

        Raises:
            NotFound: no live project has this token.
            ClaimUsed: the project was claimed already.
        """
        project = self.meta.find_project(claim_token=token) if token else None
        if project is None:
            raise NotFound("this claim link is not valid: no project has this token")
        if project.account_id is not None:
            raise ClaimUsed("this claim link was used already: the project has an owner")
        return project

    def claim(self, token: str, account: Account) -> Project:
        """Attach the token's project to ``account``; claiming twice for the same account is
        a no-op.

        Raises:
            NotFound, ClaimUsed: as :meth:`project_for_claim`.
            ForbiddenError: the account is at its project limit.
        """
        with _claim_lock:
            project = self.meta.find_project(claim_token=token) if token else None
            if project is not None and project.account_id == account.id:
                return project
            project = self.project_for_claim(token)
            if len(self.meta.list_projects(account.id)) >= self.settings.max_projects:
                raise ForbiddenError(
                    f"this account has {self.settings.max_projects} projects, its limit; "
                    "delete one before claiming another",
                    code="PROJECT_LIMIT",
                )
            # one claim wins even across workers: the first to set the marker
            if not self.meta.compare_and_set_state(f"claim:{project.id}", None, account.id):
                if self.meta.get_state(f"claim:{project.id}") == account.id:
                    return self.meta.get_project(project.id) or project
                raise ClaimUsed("this claim link was used already: the project has an owner")
            if self.meta.find_project(account_id=account.id, name=project.name):
                project.name = self._unique_name(project.name[:_NAME_BUDGET], account)
            project.account_id = account.id
            self.projects.save(project)
            return project

    # site URL ---------------------------------------------------------------------------

    def note_site_url(self, project: Project, origin: str | None) -> None:
        """Remember the first production origin seen as the project's site URL."""
        if not origin or project.site_url:
            return
        parts = urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return
        fresh = self.meta.get_project(project.id)
        if fresh is None or fresh.site_url:
            return
        fresh.site_url = f"{parts.scheme}://{parts.netloc}"[:500]
        self.projects.save(fresh)
