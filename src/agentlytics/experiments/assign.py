"""Deterministic variant assignment, identical to the tracker (``tracker/src/hash.js``) and SDK.

``bucket = fnv1a32(experiment + ":" + user_id) % 100``, then walk the variants in order summing
their weights; the first whose running total exceeds the bucket wins. The shared test vectors
are ``tracker/test/vectors.json``: a change here must change every implementation.
"""

from __future__ import annotations

from collections.abc import Sequence

_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619


def fnv1a32(text: str) -> int:
    """32-bit FNV-1a over the UTF-8 bytes of ``text``."""
    h = _FNV_OFFSET
    for byte in text.encode():
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def bucket(experiment: str, user_id: str) -> int:
    """The user's bucket, 0-99, for one experiment."""
    return fnv1a32(f"{experiment}:{user_id}") % 100


def equal_weights(n: int) -> list[int]:
    """``100 // n`` each, the remainder to the first: 3 → [34, 33, 33]."""
    if n < 1:
        raise ValueError("at least one variant is needed")
    base = 100 // n
    return [base + 100 - base * n] + [base] * (n - 1)


def variant(
    experiment: str,
    user_id: str,
    variants: Sequence[str],
    weights: Sequence[int] | None = None,
) -> str:
    """The variant of ``experiment`` that ``user_id`` sees, everywhere and every time.

    Weights default to an equal split. If they sum to less than the bucket, the first variant
    wins (as in the tracker).

    Raises:
        ValueError: no variants, or a weight count that does not match the variants.
    """
    if not variants:
        raise ValueError("variants must not be empty")
    chosen = list(weights) if weights is not None else equal_weights(len(variants))
    if len(chosen) != len(variants):
        raise ValueError(f"{len(chosen)} weights for {len(variants)} variants")
    b = bucket(experiment, user_id)
    total = 0
    for name, weight in zip(variants, chosen, strict=True):
        total += weight
        if total > b:
            return name
    return variants[0]
