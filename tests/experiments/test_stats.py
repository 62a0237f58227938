"""The statistics against values computed independently (scipy, exact Beta sums)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special
from scipy import stats as sps

from agentlytics.experiments import stats
from agentlytics.experiments.stats import Tally


def tally(key: str, users: int, conversions: int, weight: int = 50, exposures: int = 0) -> Tally:
    return Tally(key, weight, exposures or users, users, conversions)


def exact_b_beats_a(a: tuple[float, float], b: tuple[float, float]) -> float:
    """P(p_b > p_a) for Beta posteriors with integer alpha_b: a finite sum of Beta functions."""
    (a1, b1), (a2, b2) = a, b
    terms = [
        special.betaln(a1 + i, b1 + b2)
        - math.log(b2 + i)
        - special.betaln(1 + i, b2)
        - special.betaln(a1, b1)
        for i in range(int(a2))
    ]
    return float(np.exp(terms).sum())


@pytest.mark.parametrize(
    ("control", "variant"),
    [
        ((0, 0), (0, 0)),
        ((100, 10), (100, 15)),
        ((1000, 100), (1000, 130)),
        ((12, 0), (10, 1)),
        ((5, 1), (2000, 400)),
        ((40_000, 1_200), (41_000, 1_290)),
        ((500, 500), (500, 499)),
    ],
    ids=str,
)
def test_probability_best_of_two_matches_the_exact_beta_integral(
    control: tuple[int, int], variant: tuple[int, int]
) -> None:
    a, b = tally("a", *control), tally("b", *variant)
    got = stats.probability_best([a, b])
    want = exact_b_beats_a(stats.posterior(a), stats.posterior(b))
    assert got["b"] == pytest.approx(want, abs=2e-4)
    assert got["a"] + got["b"] == pytest.approx(1, abs=1e-4)


def test_probability_best_of_three_matches_scipy_quadrature() -> None:
    ts = [tally("a", 800, 80), tally("b", 760, 88), tally("c", 820, 95)]
    dists = [sps.beta(*stats.posterior(t)) for t in ts]
    want = []
    for i, d in enumerate(dists):
        others = [o for j, o in enumerate(dists) if j != i]
        value, _ = integrate.quad(
            lambda x, d=d, others=others: d.pdf(x) * math.prod(o.cdf(x) for o in others),
            0.0,
            0.3,
            points=[0.1, 0.115],
            limit=200,
            epsabs=1e-10,
        )
        want.append(value)
    got = stats.probability_best(ts)
    for t, w in zip(ts, want, strict=True):
        assert got[t.key] == pytest.approx(w, abs=2e-4)


def test_probability_best_is_deterministic() -> None:
    ts = [tally("a", 300, 30), tally("b", 310, 41), tally("c", 290, 35), tally("d", 305, 20)]
    assert len({tuple(stats.probability_best(ts).values()) for _ in range(3)}) == 1


def test_lift_is_relative_to_the_first_variant() -> None:
    ts = [tally("control", 200, 20), tally("b", 200, 30), tally("c", 100, 5)]
    assert stats.lift(ts) == {"control": 0.0, "b": 0.5, "c": -0.5}
    assert stats.lift([tally("control", 10, 0), tally("b", 10, 3)]) == {"control": None, "b": None}


def test_sufficient_data_needs_100_exposed_users_per_variant() -> None:
    assert stats.sufficient_data([tally("a", 100, 1), tally("b", 150, 2)])
    assert not stats.sufficient_data([tally("a", 99, 1), tally("b", 5000, 2)])


@pytest.mark.parametrize(
    ("x", "df"), [(0.2, 1), (3.84, 1), (9.2, 2), (7.81, 3), (40.0, 3), (1.0, 5)]
)
def test_chi2_survival_matches_scipy(x: float, df: int) -> None:
    assert stats.chi2_sf(x, df) == pytest.approx(sps.chi2.sf(x, df), rel=1e-9)


@pytest.mark.parametrize(
    ("users", "weights"),
    [
        ([5000, 5000], [50, 50]),
        ([5000, 5400], [50, 50]),
        ([1010, 8990], [10, 90]),
        ([300, 350, 330], [34, 33, 33]),
        ([260, 240, 250, 330], [25, 25, 25, 25]),
    ],
    ids=str,
)
def test_srm_matches_scipy_chisquare(users: list[int], weights: list[int]) -> None:
    ts = [tally(f"v{i}", n, 0, w) for i, (n, w) in enumerate(zip(users, weights, strict=True))]
    got = stats.srm(ts)
    total = sum(users)
    chi2, p_value = sps.chisquare(users, [total * w / 100 for w in weights])
    assert got["chi_square"] == pytest.approx(chi2, abs=1e-4)
    assert got["p_value"] == pytest.approx(p_value, rel=1e-4, abs=1e-6)
    assert got["mismatch"] == (p_value < 0.001)


def test_srm_flags_a_broken_split_and_not_a_fair_one() -> None:
    assert stats.srm([tally("a", 5000, 0), tally("b", 5400, 0)])["mismatch"]
    assert not stats.srm([tally("a", 5000, 0), tally("b", 5050, 0)])["mismatch"]
    assert not stats.srm([tally("a", 0, 0), tally("b", 0, 0)])["mismatch"]


def _log_mixture_lr(d: float, var: float, tau: float) -> float:
    """The mSPRT statistic as a ratio of two normal densities (an independent derivation)."""
    return float(
        sps.norm.logpdf(d, 0, math.sqrt(var + tau**2)) - sps.norm.logpdf(d, 0, math.sqrt(var))
    )


@pytest.mark.parametrize(
    ("control", "variant"),
    [((1000, 100), (1000, 112)), ((5000, 500), (5000, 580)), ((2000, 300), (2100, 290))],
    ids=str,
)
def test_msprt_matches_the_normal_mixture_likelihood_ratio(
    control: tuple[int, int], variant: tuple[int, int]
) -> None:
    a, b = tally("a", *control), tally("b", *variant)
    got = stats.msprt(a, b)
    d = b.rate - a.rate
    var = a.rate * (1 - a.rate) / a.users + b.rate * (1 - b.rate) / b.users
    tau = stats.MSPRT_TAU
    p_value = min(1.0, math.exp(-_log_mixture_lr(d, var, tau)))
    assert got["p_value"] == pytest.approx(p_value, abs=1e-6)
    # the confidence sequence is every difference the test would not reject at level alpha
    lo, hi = got["confidence_sequence"]

    def excess(theta: float) -> float:
        return _log_mixture_lr(d - theta, var, tau) - math.log(1 / stats.ALPHA)

    assert lo == pytest.approx(optimize.brentq(excess, d - 1, d), abs=1e-6)
    assert hi == pytest.approx(optimize.brentq(excess, d, d + 1), abs=1e-6)
    assert got["significant"] == (not lo <= 0 <= hi)


def test_msprt_corrects_for_several_treatments() -> None:
    a, b = tally("a", 3000, 300), tally("b", 3000, 360)
    one, three = stats.msprt(a, b, comparisons=1), stats.msprt(a, b, comparisons=3)
    assert three["p_value"] == pytest.approx(min(1, 3 * one["p_value"]), abs=1e-5)
    assert three["confidence_sequence"][0] < one["confidence_sequence"][0]


def test_msprt_without_evidence_is_not_significant() -> None:
    for a, b in [(tally("a", 0, 0), tally("b", 10, 1)), (tally("a", 50, 0), tally("b", 50, 0))]:
        got = stats.msprt(a, b)
        assert got["p_value"] == 1.0 and not got["significant"]


def test_sequential_stays_valid_when_peeking_after_every_batch_but_a_naive_test_does_not() -> None:
    """A/A tests, looked at 50 times each: the always-valid p-value keeps false alarms ≤ 5 %."""
    rng = np.random.default_rng(20261123)
    runs, peeks, batch, rate = 400, 50, 40, 0.1
    conversions = rng.binomial(batch, rate, size=(runs, peeks, 2)).cumsum(axis=1)
    sequential_alarms = naive_alarms = 0
    for run in range(runs):
        seq = naive = False
        for k in range(peeks):
            n = batch * (k + 1)
            a = tally("a", n, int(conversions[run, k, 0]))
            b = tally("b", n, int(conversions[run, k, 1]))
            seq = seq or stats.msprt(a, b)["significant"]
            _, p_naive = (
                sps.ttest_ind_from_stats(
                    a.rate,
                    math.sqrt(a.rate * (1 - a.rate)),
                    n,
                    b.rate,
                    math.sqrt(b.rate * (1 - b.rate)),
                    n,
                )
                if 0 < a.rate + b.rate < 2
                else (0.0, 1.0)
            )
            naive = naive or p_naive < stats.ALPHA
        sequential_alarms += seq
        naive_alarms += naive
    assert sequential_alarms / runs <= stats.ALPHA
    assert naive_alarms / runs > 2 * stats.ALPHA, "peeking at a fixed-sample test inflates errors"


def test_sequential_detects_a_real_difference() -> None:
    got = stats.sequential([tally("a", 8000, 800), tally("b", 8000, 960)])
    assert got["control"] == "a"
    assert got["comparisons"]["b"]["significant"]
    assert got["comparisons"]["b"]["confidence_sequence"][0] > 0


def test_analyze_has_the_contract_shape_and_words() -> None:
    ts = [tally("control", 1000, 100, exposures=1300), tally("new_cta", 1000, 150, exposures=1250)]
    got = stats.analyze(ts)
    assert set(got) >= {"variants", "probability_best", "lift", "sufficient_data", "recommendation"}
    assert got["variants"][1] == {
        "key": "new_cta",
        "exposures": 1250,
        "unique_users": 1000,
        "conversions": 150,
        "conversion_rate": 0.15,
    }
    assert got["sufficient_data"] is True
    assert got["recommendation"].startswith("'new_cta' is the winner with 100% probability (+50%")


@pytest.mark.parametrize(
    ("tallies", "start"),
    [
        ([tally("a", 0, 0), tally("b", 0, 0)], "No exposures yet"),
        ([tally("a", 40, 4), tally("b", 45, 9)], "Keep running: 'a' has 40 exposed users"),
        ([tally("a", 500, 50), tally("b", 500, 55)], "No clear winner yet: 'b' leads"),
        ([tally("a", 2000, 300), tally("b", 2000, 200)], "'a' (the control) is best"),
        ([tally("a", 5000, 500), tally("b", 5600, 500)], "Warning: sample ratio mismatch"),
    ],
)
def test_recommendation_says_what_to_do(tallies: list[Tally], start: str) -> None:
    assert stats.analyze(tallies)["recommendation"].startswith(start)
