"""Tenancy records: accounts own projects; API keys belong to accounts."""

from __future__ import annotations

import re
from typing import Literal

import msgspec

Scope = Literal["read", "full"]
PROJECT_NAME_RE = re.compile(r"^[a-zA-Z0-9._-]{1,64}$")


class Account(msgspec.Struct, kw_only=True):
    id: str
    email: str
    tier: str
    created_at: int
    password_hash: str | None = None


class Project(msgspec.Struct, kw_only=True):
    id: str
    account_id: str | None  # None while unclaimed
    name: str
    write_key: str
    allowed_origins: str = "*"
    timezone: str = "UTC"
    created_at: int = 0
    deleted_at: int | None = None
    claim_token: str | None = None
    deployment_slug: str | None = None
    source_scan_id: str | None = None
    site_url: str | None = None
    context: str = "{}"  # project-context JSON: goals, activation_events, glossary

    @property
    def claimed(self) -> bool:
        return self.account_id is not None

    def origin_allowed(self, origin: str | None) -> bool:
        """Is a browser ``Origin`` permitted to send events to this project?"""
        allowed = [o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()]
        if not allowed or "*" in allowed or origin is None:
            return True
        origin = origin.rstrip("/")
        host = origin.split("://", 1)[-1]
        for rule in allowed:
            if rule in (origin, host):
                return True
            if rule.startswith("*.") and (host.endswith(rule[1:]) or host == rule[2:]):
                return True
        return False


class ApiKey(msgspec.Struct, kw_only=True):
    id: str
    account_id: str
    name: str
    scope: Scope
    prefix: str  # the first characters, shown in listings
    key_hash: str
    created_at: int
    revoked_at: int | None = None
    last_used_at: int | None = None
