"""Credentials: generated with a prefix per kind, stored only as a hash, shown once.

* ``aat_…`` project write key: public, write-only, safe in client code.
* ``aak_…`` secret API key: belongs to an account, scope ``read`` or ``full``.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

WRITE_KEY_PREFIX = "aat_"
API_KEY_PREFIX = "aak_"


def new_write_key() -> str:
    return WRITE_KEY_PREFIX + secrets.token_hex(16)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(30)


def new_claim_token() -> str:
    return secrets.token_urlsafe(24)


def hash_key(raw: str) -> str:
    """Keys are long random strings, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(raw.encode()).hexdigest()


def display_prefix(raw: str) -> str:
    return raw[:10] + "…"


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"
