"""Deterministic assignment: the same rule as the tracker and the server."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentlytics_sdk import Client, assign_variant
from agentlytics_sdk.variant import default_weights, fnv1a32

from sdk_loopback import LiveServer

VECTORS = Path(__file__).with_name("variant_vectors.json")
TRACKER_VECTORS = Path(__file__).parents[3] / "tracker" / "test" / "vectors.json"

# chi-square critical values at p = 0.001 for 1..5 degrees of freedom
CHI2_CRITICAL = {1: 10.828, 2: 13.816, 3: 16.266, 4: 18.467, 5: 20.515}


def test_fnv1a32_matches_the_published_test_vectors() -> None:
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C
    assert fnv1a32("foobar") == 0xBF9CF968


def test_default_weights_give_the_remainder_to_the_first_variant() -> None:
    assert default_weights(2) == [50, 50]
    assert default_weights(3) == [34, 33, 33]
    assert default_weights(6) == [20, 16, 16, 16, 16, 16]
    assert all(sum(default_weights(n)) == 100 for n in range(1, 11))


def _check(cases: list[dict[str, Any]]) -> None:
    for case in cases:
        got = assign_variant(case["experiment"], case["user_id"], case["variants"], case["weights"])
        assert got == case["variant"], case


def test_assignment_matches_the_pinned_vectors() -> None:
    cases = json.loads(VECTORS.read_text())["cases"]
    for case in cases:
        assert fnv1a32(f"{case['experiment']}:{case['user_id']}") == case["hash"]
    _check(cases)


@pytest.mark.skipif(
    not TRACKER_VECTORS.exists(), reason="tracker/test/vectors.json not written yet"
)
def test_assignment_matches_the_tracker_vectors() -> None:
    data = json.loads(TRACKER_VECTORS.read_text())
    for case in data["fnv1a32"]:
        assert fnv1a32(case["input"]) == case["hash"], case
    for case in data["equal_weights"]:
        assert default_weights(len(case["variants"])) == case["weights"], case
    for case in data["assignments"]:
        # Variants are plain keys (equal weights) or {key, weight} objects.
        plain = all(isinstance(v, str) for v in case["variants"])
        names = case["variants"] if plain else [v["key"] for v in case["variants"]]
        weights = None if plain else [v["weight"] for v in case["variants"]]
        assert fnv1a32(f"{case['experiment']}:{case['user_id']}") == case["hash"], case
        assert (
            assign_variant(case["experiment"], case["user_id"], names, weights) == case["variant"]
        )


def test_assignment_is_deterministic() -> None:
    variants = ["control", "a", "b"]
    first = [assign_variant("exp", f"user-{i}", variants) for i in range(1000)]
    again = [assign_variant("exp", f"user-{i}", variants) for i in range(1000)]
    assert first == again


def test_assignment_differs_between_experiments() -> None:
    one = [assign_variant("one", f"user-{i}", ["a", "b"]) for i in range(1000)]
    two = [assign_variant("two", f"user-{i}", ["a", "b"]) for i in range(1000)]
    assert one != two


@pytest.mark.parametrize(
    ("variants", "weights"),
    [
        (["a", "b"], None),
        (["a", "b", "c"], None),
        (["control", "treatment"], [10, 90]),
        (["a", "b", "c", "d"], [40, 30, 20, 10]),
    ],
)
def test_assignment_follows_the_weights_over_10k_users(
    variants: list[str], weights: list[int] | None
) -> None:
    users = 10_000
    expected_weights = weights or default_weights(len(variants))
    counts = dict.fromkeys(variants, 0)
    for i in range(users):
        counts[assign_variant("weights-check", f"user-{i}", variants, weights)] += 1
    chi2 = sum(
        (counts[v] - users * w / 100) ** 2 / (users * w / 100)
        for v, w in zip(variants, expected_weights, strict=True)
    )
    assert chi2 < CHI2_CRITICAL[len(variants) - 1], counts


def test_weights_of_the_wrong_length_fall_back_to_an_equal_split(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="agentlytics_sdk"):
        got = [assign_variant("exp", f"user-{i}", ["a", "b"], [100]) for i in range(100)]
    assert got == [assign_variant("exp", f"user-{i}", ["a", "b"]) for i in range(100)]
    assert "equal split" in caplog.text


def test_weights_short_of_100_leave_the_rest_to_the_first_variant() -> None:
    got = {assign_variant("exp", f"user-{i}", ["a", "b", "c"], [0, 10, 0]) for i in range(500)}
    assert got == {"a", "b"}


def test_no_variants_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="variants"):
        assign_variant("exp", "user-1", [])


def test_client_variant_records_one_exposure_per_user(
    server: LiveServer, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    first = client.variant("hero", "user-1", ["control", "b"])
    assert client.variant("hero", "user-1", ["control", "b"]) == first
    client.variant("hero", "user-2", ["control", "b"], [0, 100])
    client.variant("hero", "user-3", ["control", "b"], expose=False)
    assert client.flush(timeout=10)

    exposures = [(e["user_id"], e["properties"]) for e in server.recorder.events()]
    assert exposures == [
        ("user-1", {"experiment": "hero", "variant": first}),
        ("user-2", {"experiment": "hero", "variant": "b"}),
    ]
    assert all(e["event"] == "$experiment_exposure" for e in server.recorder.events())
