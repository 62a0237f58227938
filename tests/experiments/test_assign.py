"""Server-side assignment: the tracker's vectors, stability, and weights honoured over many users."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from scipy import stats as sps

from agentlytics.experiments import assign
from agentlytics.experiments.service import Experiment, Variant

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "tracker" / "test" / "vectors.json").read_text()
)


def _variants(spec: list[Any]) -> tuple[list[str], list[int] | None]:
    if all(isinstance(v, str) for v in spec):
        return list(spec), None
    return [v["key"] for v in spec], [v["weight"] for v in spec]


@pytest.mark.parametrize("case", VECTORS["fnv1a32"], ids=lambda c: repr(c["input"]))
def test_fnv1a32_matches_the_tracker_vectors(case: dict[str, Any]) -> None:
    assert assign.fnv1a32(case["input"]) == case["hash"]


@pytest.mark.parametrize("case", VECTORS["equal_weights"], ids=lambda c: str(len(c["variants"])))
def test_equal_weights_match_the_tracker_vectors(case: dict[str, Any]) -> None:
    assert assign.equal_weights(len(case["variants"])) == case["weights"]


@pytest.mark.parametrize(
    "case", VECTORS["assignments"], ids=lambda c: f"{c['experiment']}:{c['user_id']}"
)
def test_assignment_matches_the_tracker_vectors(case: dict[str, Any]) -> None:
    variants, weights = _variants(case["variants"])
    assert assign.bucket(case["experiment"], case["user_id"]) == case["bucket"]
    assert assign.variant(case["experiment"], case["user_id"], variants, weights) == case["variant"]


def test_assignment_matches_the_python_sdk() -> None:
    sdk = pytest.importorskip("agentlytics_sdk.variant")
    for case in VECTORS["assignments"]:
        variants, weights = _variants(case["variants"])
        ours = assign.variant(case["experiment"], case["user_id"], variants, weights)
        assert sdk.assign_variant(case["experiment"], case["user_id"], variants, weights) == ours
    for i in range(2000):
        user = f"user-{i}"
        assert sdk.assign_variant("parity", user, ["a", "b", "c"], [20, 30, 50]) == (
            assign.variant("parity", user, ["a", "b", "c"], [20, 30, 50])
        )


def test_a_user_always_gets_the_same_variant() -> None:
    variants = ["control", "b", "c"]
    first = {f"u{i}": assign.variant("stable", f"u{i}", variants) for i in range(500)}
    for _ in range(3):
        assert {u: assign.variant("stable", u, variants) for u in first} == first


def test_the_stored_experiment_assigns_with_its_own_weights() -> None:
    exp = Experiment(
        id="exp_1",
        project_id="p",
        account_id="a",
        name="signup_cta",
        variants=[Variant("a", 10), Variant("b", 90)],
        goal_event="signup",
        created_at=0,
        updated_at=0,
    )
    assert exp.variant_for("user_42") == "b"  # bucket 28 (vectors.json)
    assert exp.variant_for("user_43") == "b"  # bucket 47: past a's 10


@pytest.mark.parametrize(
    "weights",
    [[50, 50], [10, 90], [34, 33, 33], [25, 25, 25, 25], [70, 10, 10, 10]],
    ids=str,
)
def test_weights_are_honoured_over_many_users(weights: list[int]) -> None:
    names = [f"v{i}" for i in range(len(weights))]
    n = 40_000
    # deterministic ids in two shapes (sequential and uuid-like) so the test never flakes
    users = [f"user_{i}" for i in range(n // 2)] + [
        f"{i * 2654435761 % 2**32:08x}-4c1e-9f0a-{i:012d}" for i in range(n // 2)
    ]
    counts = Counter(assign.variant("weights_check", u, names, weights) for u in users)
    observed = [counts[name] for name in names]
    expected = [n * w / 100 for w in weights]
    _, p_value = sps.chisquare(observed, expected)
    # a fixed population: this p-value is a constant, far from a 1-in-a-million tail
    assert p_value > 1e-6, (observed, expected)
    for o, e in zip(observed, expected, strict=True):
        assert abs(o - e) / n < 0.01


def test_experiments_assign_independently() -> None:
    users = [f"u{i}" for i in range(20_000)]
    a = [assign.variant("first", u, ["x", "y"]) for u in users]
    b = [assign.variant("second", u, ["x", "y"]) for u in users]
    table = Counter(zip(a, b, strict=True))
    _, p_value, _, _ = sps.chi2_contingency(
        [[table["x", "x"], table["x", "y"]], [table["y", "x"], table["y", "y"]]]
    )
    assert p_value > 1e-6, table


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError):
        assign.variant("e", "u", [])
    with pytest.raises(ValueError):
        assign.variant("e", "u", ["a", "b"], [100])
    with pytest.raises(ValueError):
        assign.equal_weights(0)
