"""Deterministic A/B assignment, identical in the Python SDK, the browser tracker and the server."""

from __future__ import annotations

import logging
from collections.abc import Sequence

log = logging.getLogger("agentlytics_sdk")

_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619


def fnv1a32(text: str) -> int:
    """32-bit FNV-1a over the UTF-8 bytes of `text`."""
    h = _FNV_OFFSET
    for byte in text.encode():
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def default_weights(n: int) -> list[int]:
    """Equal integer weights summing to 100: `100 // n` each, the remainder to the first.

    3 variants -> [34, 33, 33]; 4 -> [25, 25, 25, 25]; 6 -> [20, 16, 16, 16, 16, 16].
    """
    base = 100 // n
    return [base + 100 - base * n] + [base] * (n - 1)


def assign_variant(
    experiment: str,
    user_id: str,
    variants: Sequence[str],
    weights: Sequence[int] | None = None,
) -> str:
    """The variant of `experiment` that `user_id` sees; the same answer everywhere, every time.

    The rule, which the tracker (`tracker/src/hash.js`) and the server implement identically
    (shared vectors: `tracker/test/vectors.json`):

    1. `bucket = fnv1a32(f"{experiment}:{user_id}") % 100` (32-bit FNV-1a over UTF-8 bytes,
       offset basis 2166136261, prime 16777619);
    2. `weights` are integers, one per variant in the order given, meant to sum to 100. The
       default is `100 // n` each with the remainder added to the first variant
       (`default_weights`);
    3. walk the variants in order accumulating their weights; the first variant whose
       cumulative weight is greater than `bucket` wins. If the weights fall short of the
       bucket, the first variant wins.

    Weights of the wrong length are logged and replaced by the default split; weights that
    do not sum to 100 are logged and used as given, as the tracker does.

    Raises:
        ValueError: `variants` is empty (there is nothing to return).
    """
    if not variants:
        raise ValueError("variants must not be empty")
    n = len(variants)
    if weights is None:
        chosen = default_weights(n)
    elif len(weights) != n:
        log.warning(
            "experiment %r: %d weights for %d variants; using an equal split",
            experiment,
            len(weights),
            n,
        )
        chosen = default_weights(n)
    else:
        chosen = list(weights)
        if sum(chosen) != 100:
            log.warning("experiment %r: weights %r do not sum to 100", experiment, chosen)
    bucket = fnv1a32(f"{experiment}:{user_id}") % 100
    cumulative = 0
    for name, weight in zip(variants, chosen, strict=True):
        cumulative += weight
        if cumulative > bucket:
            return name
    return variants[0]
