"""The exception tree. Each error carries a stable code and the HTTP status it maps to.

    AgentlyticsError (500 INTERNAL)
    ├── ConfigError             startup: a bad setting
    ├── ValidationError   400   MISSING_FIELDS, INVALID_*, …
    │   └── PayloadTooLarge 413 PAYLOAD_TOO_LARGE
    ├── AuthError         401   AUTH_REQUIRED, INVALID_TOKEN
    ├── ForbiddenError    403   FORBIDDEN, PROJECT_LIMIT
    ├── NotFound          404   NOT_FOUND, EXPERIMENT_NOT_FOUND
    ├── Conflict          409   EXPERIMENT_NAME_EXISTS, …
    └── RateLimited       429   RATE_LIMITED, STREAM_LIMIT (with retry_after seconds)

Surfaces translate these into their own wire formats in one place each
(``api/errors.py`` for the native API); the core raises and never formats responses.
"""

from __future__ import annotations

from typing import Any


class AgentlyticsError(Exception):
    status = 500
    code = "INTERNAL"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra


class ConfigError(AgentlyticsError):
    code = "CONFIG"


class ValidationError(AgentlyticsError):
    status = 400
    code = "VALIDATION"


class PayloadTooLarge(ValidationError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class AuthError(AgentlyticsError):
    status = 401
    code = "AUTH_REQUIRED"


class ForbiddenError(AgentlyticsError):
    status = 403
    code = "FORBIDDEN"


class NotFound(AgentlyticsError):
    status = 404
    code = "NOT_FOUND"


class Conflict(AgentlyticsError):
    status = 409
    code = "CONFLICT"


class RateLimited(AgentlyticsError):
    status = 429
    code = "RATE_LIMITED"

    def __init__(
        self,
        message: str,
        *,
        retry_after: int,
        reset_at_ms: int,
        reason: str = "rate_limit",
        code: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message, code=code, **extra)
        self.retry_after = max(1, retry_after)
        self.reset_at_ms = reset_at_ms
        self.reason = reason
