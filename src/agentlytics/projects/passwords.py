"""Account passwords: Argon2id (argon2-cffi's defaults), checked in constant work.

Blocking: callers on the event loop run these in a worker thread.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from agentlytics.errors import ValidationError

MIN_PASSWORD = 8
MAX_PASSWORD = 1024

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def check_new_password(password: str) -> None:
    """Raises: ValidationError when the password is too short or absurdly long."""
    if len(password) < MIN_PASSWORD:
        raise ValidationError(
            f"choose a password of at least {MIN_PASSWORD} characters", code="WEAK_PASSWORD"
        )
    if len(password) > MAX_PASSWORD:
        raise ValidationError("that password is too long", code="WEAK_PASSWORD")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        # with no stored hash, still spend the time of one check: no timing oracle
        return _hasher.verify(stored or _DUMMY_HASH, password[:MAX_PASSWORD]) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
