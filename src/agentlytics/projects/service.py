"""Accounts, projects and API keys: every tenancy rule lives here.

Every lookup that takes an account only ever returns that account's objects, so a surface
cannot leak another tenant's project by passing its id.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agentlytics.errors import AuthError, Conflict, ForbiddenError, NotFound, ValidationError
from agentlytics.model.project import PROJECT_NAME_RE, Account, ApiKey, Project, Scope
from agentlytics.projects import keys
from agentlytics.projects.passwords import check_new_password, hash_password
from agentlytics.settings import Settings
from agentlytics.storage.ports import EventStore, MetaStore

_CACHE_TTL_S = 5.0
CONTEXT_LIMITS = {"goals": 5, "activation_events": 8, "glossary": 10}


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: an account, through one API key."""

    account: Account
    key: ApiKey

    @property
    def can_write(self) -> bool:
        return self.key.scope == "full"

    def require_full(self) -> None:
        if not self.can_write:
            raise ForbiddenError(
                "this API key has read scope; use a full-scope key for changes",
                code="FORBIDDEN",
            )


@dataclass(frozen=True, slots=True)
class Limits:
    tier: str
    max_events_per_month: int
    max_projects: int
    max_reads_per_month: int
    retention_days: int
    rate_limit_rpm: int


class ProjectService:
    def __init__(self, meta: MetaStore, events: EventStore | None, settings: Settings) -> None:
        self.meta = meta
        self.events = events
        self.settings = settings
        #: write key -> project, for the ingest hot path (``delete_project`` drops an entry)
        self._write_keys: dict[str, tuple[float, Project | None]] = {}

    # bootstrap --------------------------------------------------------------------------

    def bootstrap(self) -> str | None:
        """Create the owner account on first start; return a generated key to print once."""
        if self.meta.count_accounts() > 0:
            owner_account = self.owner()
            key = self.settings.api_key
            if owner_account and key and self.meta.get_api_key_by_hash(keys.hash_key(key)) is None:
                self._store_key(owner_account, key, name="env", scope="full")
            return None
        owner = Account(
            id=keys.new_id("acc"),
            email=self.settings.owner_email,
            tier="self-hosted",
            created_at=now_ms(),
        )
        # two machines starting at once: only one claims the owner slot, the other returns
        if not self.meta.compare_and_set_state("owner_account", None, owner.id):
            return None
        self.meta.add_account(owner)
        raw = self.settings.api_key or keys.new_api_key()
        self._store_key(owner, raw, name="owner", scope="full")
        return None if self.settings.api_key else raw

    def owner(self) -> Account | None:
        owner_id = self.meta.get_state("owner_account")
        if owner_id:
            return self.meta.get_account(owner_id)
        return self.meta.get_account_by_email(self.settings.owner_email)

    # accounts ---------------------------------------------------------------------------

    def create_account(self, email: str, password_hash: str | None = None) -> Account:
        email = email.strip()
        if "@" not in email or len(email) > 254:
            raise ValidationError("a valid e-mail address is required", code="INVALID_EMAIL")
        if self.meta.get_account_by_email(email):
            raise Conflict("an account with this e-mail exists", code="ACCOUNT_EXISTS")
        account = Account(
            id=keys.new_id("acc"),
            email=email,
            tier="self-hosted",
            created_at=now_ms(),
            password_hash=password_hash,
        )
        self.meta.add_account(account)
        return account

    def set_password(self, account: Account, password: str) -> None:
        """Give an account (the owner, say) a password for the web pages.

        Raises:
            ValidationError: the password is too short or too long.
        """
        check_new_password(password)
        account.password_hash = hash_password(password)
        self.meta.update_account(account)

    def limits(self, account: Account) -> Limits:
        s = self.settings
        return Limits(
            tier=account.tier,
            max_events_per_month=s.max_events_per_month,
            max_projects=s.max_projects,
            max_reads_per_month=0,
            retention_days=s.retention_days,
            rate_limit_rpm=s.ingest_rate_limit,
        )

    def account_info(self, account: Account) -> dict[str, Any]:
        limits = self.limits(account)
        return {
            "id": account.id,
            "email": account.email,
            "github_login": None,
            "tier": account.tier,
            "created_at": _iso(account.created_at),
            "projects_count": len(self.meta.list_projects(account.id)),
            "tier_limits": {
                "max_events_per_month": limits.max_events_per_month or None,
                "max_projects": limits.max_projects,
                "max_reads_per_month": limits.max_reads_per_month or None,
                "retention_days": limits.retention_days or None,
                "rate_limit_rpm": limits.rate_limit_rpm or None,
            },
            "monthly_spend_cap_dollars": None,
        }

    # API keys ---------------------------------------------------------------------------

    def _store_key(self, account: Account, raw: str, *, name: str, scope: Scope) -> ApiKey:
        key = ApiKey(
            id=keys.new_id("key"),
            account_id=account.id,
            name=name,
            scope=scope,
            prefix=keys.display_prefix(raw),
            key_hash=keys.hash_key(raw),
            created_at=now_ms(),
        )
        self.meta.add_api_key(key)
        return key

    def create_api_key(self, account: Account, name: str, scope: str) -> tuple[ApiKey, str]:
        """A new key; the raw value is returned once and never stored."""
        if scope not in ("read", "full"):
            raise ValidationError("scope must be 'read' or 'full'", code="INVALID_SCOPE")
        name = (name or "api key").strip()[:100]
        raw = keys.new_api_key()
        return self._store_key(account, raw, name=name, scope=scope), raw  # type: ignore[arg-type]

    def list_api_keys(self, account: Account) -> list[ApiKey]:
        return self.meta.list_api_keys(account.id)

    def revoke_api_key(self, account: Account, key_id: str) -> None:
        if not self.meta.revoke_api_key(account.id, key_id, now_ms()):
            raise NotFound(f"no active API key {key_id!r} in this account")

    def rotate_api_key(self, principal: Principal) -> str:
        """Revoke the key in use and issue a new one of the same scope (shown once)."""
        self.meta.revoke_api_key(principal.account.id, principal.key.id, now_ms())
        raw = keys.new_api_key()
        self._store_key(principal.account, raw, name=principal.key.name, scope=principal.key.scope)
        return raw

    def authenticate(self, raw: str | None) -> Principal:
        """Resolve a secret API key.

        Raises:
            AuthError: no key, an unknown key, a revoked key or a write key.
        """
        if not raw:
            raise AuthError(
                "an API key is required: send X-API-Key, ?key= or Authorization: Bearer",
                code="AUTH_REQUIRED",
            )
        if raw.startswith(keys.WRITE_KEY_PREFIX):
            raise AuthError(
                "this is a project write key, which can only send events; "
                "reading needs a secret API key (aak_…)",
                code="INVALID_TOKEN",
            )
        # Looked up every time, never cached: a key revoked by another process (``agentlytics
        # keys revoke``, another worker) stops at once, and unknown keys fill no memory.
        principal = None
        key = self.meta.get_api_key_by_hash(keys.hash_key(raw))
        if key is not None and key.revoked_at is None:
            account = self.meta.get_account(key.account_id)
            if account is not None:
                principal = Principal(account=account, key=key)
        if principal is None:
            raise AuthError("invalid or revoked API key", code="INVALID_TOKEN")
        return principal

    # projects ---------------------------------------------------------------------------

    def project_by_write_key(self, write_key: str | None) -> Project | None:
        if not write_key:
            return None
        cached = self._write_keys.get(write_key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        project = self.meta.get_project_by_write_key(write_key)
        if len(self._write_keys) > 10_000:
            self._write_keys.clear()
        self._write_keys[write_key] = (time.monotonic() + _CACHE_TTL_S, project)
        return project

    def create_project(
        self,
        account: Account | None,
        name: str,
        *,
        allowed_origins: str = "*",
        timezone: str = "UTC",
        source_scan_id: str | None = None,
        deployment_slug: str | None = None,
        claim_token: str | None = None,
    ) -> tuple[Project, bool]:
        """Create a project, or return the account's existing one of that name (created=False).

        Raises:
            ValidationError: a bad name, time zone or origin list.
            ForbiddenError: the account is at its project limit.
        """
        _check_name(name)
        _check_timezone(timezone)
        allowed_origins = _check_origins(allowed_origins)
        if account is not None:
            existing = self.meta.find_project(account_id=account.id, name=name)
            if existing:
                return existing, False
            if len(self.meta.list_projects(account.id)) >= self.settings.max_projects:
                raise ForbiddenError(
                    f"project limit reached ({self.settings.max_projects}); "
                    "delete a project or raise max_projects",
                    code="PROJECT_LIMIT",
                )
        project = Project(
            id=keys.new_id("prj"),
            account_id=account.id if account else None,
            name=name,
            write_key=keys.new_write_key(),
            allowed_origins=allowed_origins,
            timezone=timezone,
            created_at=now_ms(),
            source_scan_id=source_scan_id,
            deployment_slug=deployment_slug,
            claim_token=claim_token,
        )
        self.meta.add_project(project)
        return project, True

    def list_projects(self, account: Account) -> list[Project]:
        return self.meta.list_projects(account.id)

    def get_project(self, account: Account, ref: str | None) -> Project:
        """A project of this account by id or (case-insensitive) name.

        Raises:
            ValidationError: no reference given (PROJECT_REQUIRED).
            NotFound: none of this account's projects matches.
        """
        if not ref:
            raise ValidationError(
                "the project parameter is required (a project name or id)",
                code="PROJECT_REQUIRED",
            )
        project = self.meta.get_project(ref)
        if project is None or project.deleted_at is not None or project.account_id != account.id:
            project = self.meta.find_project(account_id=account.id, name=ref)
        if project is None:
            raise NotFound(f"no project {ref!r} in this account; GET /projects lists them")
        return project

    def update_project(self, account: Account, ref: str, patch: dict[str, Any]) -> Project:
        project = self.get_project(account, ref)
        allowed = {"name", "allowed_origins", "timezone"}
        unknown = set(patch) - allowed
        if unknown:
            raise ValidationError(
                f"cannot change {sorted(unknown)}; changeable fields: {sorted(allowed)}",
                code="INVALID_FIELDS",
            )
        if "name" in patch and patch["name"] != project.name:
            _check_name(patch["name"])
            if self.events is None or self.events.has_events(project.id):
                raise ValidationError(
                    "a project cannot be renamed once it has events", code="RENAME_FORBIDDEN"
                )
            if self.meta.find_project(account_id=account.id, name=patch["name"]):
                raise Conflict(f"a project named {patch['name']!r} exists", code="NAME_EXISTS")
            project.name = patch["name"]
        if "allowed_origins" in patch:
            project.allowed_origins = _check_origins(patch["allowed_origins"])
        if "timezone" in patch:
            _check_timezone(patch["timezone"])
            project.timezone = patch["timezone"]
        self.meta.update_project(project)
        self._write_keys.pop(project.write_key, None)
        return project

    def delete_project(self, account: Account, ref: str) -> Project:
        """Soft delete: the project disappears and its write key stops working at once."""
        project = self.get_project(account, ref)
        project.deleted_at = now_ms()
        self.meta.update_project(project)
        self._write_keys.pop(project.write_key, None)
        return project

    def save(self, project: Project) -> None:
        self.meta.update_project(project)
        self._write_keys.pop(project.write_key, None)

    # project context --------------------------------------------------------------------

    def context(self, project: Project) -> dict[str, Any]:
        data = json.loads(project.context or "{}")
        return {k: data.get(k, []) for k in CONTEXT_LIMITS}

    def set_context(self, project: Project, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, cap in CONTEXT_LIMITS.items():
            value = body.get(key, [])
            if not isinstance(value, list):
                raise ValidationError(f"{key} must be a list", code="INVALID_CONTEXT")
            if len(value) > cap:
                raise ValidationError(f"{key} takes at most {cap} items", code="INVALID_CONTEXT")
            result[key] = value
        project.context = json.dumps(result)
        self.save(project)
        return result


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not PROJECT_NAME_RE.match(name):
        raise ValidationError(
            "name must be 1-64 characters of letters, digits, '.', '_' or '-'",
            code="INVALID_NAME",
        )


def _check_timezone(tz: Any) -> None:
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"unknown time zone {tz!r}; use an IANA name such as 'Europe/Paris'",
            code="INVALID_TIMEZONE",
        ) from None


def _check_origins(origins: Any) -> str:
    if isinstance(origins, list):
        origins = ",".join(str(o) for o in origins)
    if not isinstance(origins, str) or len(origins) > 2000:
        raise ValidationError(
            "allowed_origins must be '*' or a comma-separated list of origins",
            code="INVALID_ORIGINS",
        )
    return origins.strip() or "*"
