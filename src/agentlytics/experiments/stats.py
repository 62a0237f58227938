"""The statistics of an experiment, as pure functions of per-variant tallies (no SQL, no I/O).

* Bayesian (the contract's ``results``): each variant's conversion rate has a Beta(1 + c,
  1 + n - c) posterior (uniform prior, n exposed users, c converted). ``probability_best`` is
  P(variant's rate is the largest), integrated numerically on a fixed grid: deterministic, no
  random draws. ``lift`` is relative to the first variant (the control).
* Sequential (our extra): a mixture sequential probability ratio test (mSPRT, Johari et al.,
  "Always Valid Inference", 2017) per variant against the control, with its always-valid
  p-value and confidence sequence. Both stay valid however often the results are looked at.
* Sample-ratio mismatch (our extra): a chi-square goodness-of-fit test of exposed users per
  variant against the configured weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: exposed users per variant before the numbers mean much (the contract's "about 100")
MIN_USERS_PER_VARIANT = 100
#: probability_best at which a variant is called the winner
WIN_PROBABILITY = 0.95
#: SRM p-values below this are flagged; strict because a false alarm stops an experiment
SRM_THRESHOLD = 0.001
#: error rate of the sequential test (family-wise, Bonferroni over the comparisons)
ALPHA = 0.05
#: standard deviation of the mSPRT's normal mixture over the absolute difference in rates
MSPRT_TAU = 0.05

# grid of the posterior integrals: points per posterior across mean ± _SPAN standard deviations
_POINTS = 1200
_SPAN = 14.0


@dataclass(frozen=True, slots=True)
class Tally:
    """What the event store says about one variant."""

    key: str
    weight: int
    exposures: int  # $experiment_exposure events
    users: int  # users first exposed to this variant
    conversions: int  # of those, users who did the goal event at or after that exposure

    @property
    def rate(self) -> float:
        return self.conversions / self.users if self.users else 0.0


# -- Bayesian -----------------------------------------------------------------------------


def posterior(t: Tally) -> tuple[float, float]:
    """Beta(alpha, beta) of the variant's conversion rate under a uniform prior."""
    return 1.0 + t.conversions, 1.0 + t.users - t.conversions


def _grid(params: Sequence[tuple[float, float]]) -> list[float]:
    points = {0.0, 1.0}
    for a, b in params:
        mean = a / (a + b)
        sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        lo, hi = max(0.0, mean - _SPAN * sd), min(1.0, mean + _SPAN * sd)
        step = (hi - lo) / _POINTS
        points.update(lo + i * step for i in range(_POINTS + 1))
    return sorted(points)


def _pdf(x: float, a: float, b: float, log_norm: float) -> float:
    if x <= 0.0 or x >= 1.0:
        edge_ok = (x <= 0.0 and a == 1.0) or (x >= 1.0 and b == 1.0)
        return math.exp(-log_norm) if edge_ok else 0.0
    return math.exp((a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - log_norm)


def probability_best(tallies: Sequence[Tally]) -> dict[str, float]:
    """P(each variant has the highest conversion rate), from the Beta posteriors.

    ``∫ f_i(x) Π_{j≠i} F_j(x) dx`` by the trapezoid rule on a grid dense around every
    posterior, with each CDF the running integral of its density on the same grid.
    """
    params = [posterior(t) for t in tallies]
    xs = _grid(params)
    densities: list[list[float]] = []
    cdfs: list[list[float]] = []
    for a, b in params:
        log_norm = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
        f = [_pdf(x, a, b, log_norm) for x in xs]
        cdf = [0.0]
        for k in range(1, len(xs)):
            cdf.append(cdf[-1] + (f[k] + f[k - 1]) * (xs[k] - xs[k - 1]) / 2)
        mass = cdf[-1] or 1.0
        densities.append([v / mass for v in f])
        cdfs.append([v / mass for v in cdf])
    raw: list[float] = []
    for i in range(len(params)):
        others = [cdfs[j] for j in range(len(params)) if j != i]
        g = [densities[i][k] * math.prod(c[k] for c in others) for k in range(len(xs))]
        raw.append(sum((g[k] + g[k - 1]) * (xs[k] - xs[k - 1]) / 2 for k in range(1, len(xs))))
    total = sum(raw) or 1.0
    return {t.key: round(p / total, 4) for t, p in zip(tallies, raw, strict=True)}


def lift(tallies: Sequence[Tally]) -> dict[str, float | None]:
    """Relative change of each observed conversion rate over the control's (None if that is 0)."""
    control = tallies[0].rate
    return {t.key: round(t.rate / control - 1, 4) if control else None for t in tallies}


def sufficient_data(tallies: Sequence[Tally]) -> bool:
    return all(t.users >= MIN_USERS_PER_VARIANT for t in tallies)


# -- sequential (always valid) ------------------------------------------------------------


def msprt(
    control: Tally, treatment: Tally, *, comparisons: int = 1, alpha: float = ALPHA
) -> dict[str, Any]:
    """mSPRT of the difference in rates (treatment - control), normal approximation.

    With d the observed difference, V its estimated variance and a N(0, tau²) mixture over the
    true difference, the likelihood ratio against "no difference" is
    ``Λ = sqrt(V / (V + tau²)) · exp(tau² d² / (2 V (V + tau²)))``. Under no difference it is a
    martingale, so ``P(Λ ever ≥ 1/alpha) ≤ alpha``: ``min(1, 1/Λ)`` is a p-value valid at any time,
    and inverting the test gives a confidence sequence. Both are Bonferroni-corrected for
    ``comparisons`` treatments sharing one control.
    """
    m = max(1, comparisons)
    d = treatment.rate - control.rate
    result: dict[str, Any] = {
        "difference": round(d, 6),
        "p_value": 1.0,
        "confidence_sequence": None,
        "significant": False,
    }
    if not control.users or not treatment.users:
        return result
    p0, p1 = control.rate, treatment.rate
    var = p0 * (1 - p0) / control.users + p1 * (1 - p1) / treatment.users
    if var <= 0.0:
        return result  # no spread yet (all or nothing converted): no evidence either way
    tau2 = MSPRT_TAU**2
    log_lr = 0.5 * math.log(var / (var + tau2)) + tau2 * d * d / (2 * var * (var + tau2))
    p_value = min(1.0, m * math.exp(-log_lr)) if log_lr < 700 else 0.0
    half = math.sqrt(
        var * (var + tau2) / tau2 * (math.log((var + tau2) / var) + 2 * math.log(m / alpha))
    )
    result.update(
        p_value=round(p_value, 6),
        confidence_sequence=[round(d - half, 6), round(d + half, 6)],
        significant=p_value < alpha,
    )
    return result


def sequential(tallies: Sequence[Tally], alpha: float = ALPHA) -> dict[str, Any]:
    control, rest = tallies[0], tallies[1:]
    return {
        "method": "mSPRT, normal mixture over the difference in conversion rates",
        "control": control.key,
        "alpha": alpha,
        "tau": MSPRT_TAU,
        "comparisons": {t.key: msprt(control, t, comparisons=len(rest), alpha=alpha) for t in rest},
    }


# -- sample-ratio mismatch -----------------------------------------------------------------


def chi2_sf(x: float, df: int) -> float:
    """P(X ≥ x) for a chi-square variable with an integer number of degrees of freedom (exact)."""
    if df < 1:
        raise ValueError("df must be at least 1")
    if x <= 0:
        return 1.0
    half = x / 2
    if df % 2 == 0:
        total = sum(
            math.exp(-half + i * math.log(half) - math.lgamma(i + 1)) for i in range(df // 2)
        )
    else:
        total = math.erfc(math.sqrt(half)) + sum(
            math.exp(-half + (i - 0.5) * math.log(half) - math.lgamma(i + 0.5))
            for i in range(1, (df - 1) // 2 + 1)
        )
    return min(1.0, max(0.0, total))


def srm(tallies: Sequence[Tally], threshold: float = SRM_THRESHOLD) -> dict[str, Any]:
    """Chi-square goodness of fit of exposed users per variant against the weights."""
    total = sum(t.users for t in tallies)
    expected = {t.key: total * t.weight / 100 for t in tallies}
    chi2 = sum(
        (t.users - expected[t.key]) ** 2 / expected[t.key] for t in tallies if expected[t.key]
    )
    p_value = chi2_sf(chi2, len(tallies) - 1) if total else 1.0
    mismatch = p_value < threshold
    return {
        "observed": {t.key: t.users for t in tallies},
        "expected": {k: round(v, 2) for k, v in expected.items()},
        "chi_square": round(chi2, 4),
        "p_value": p_value if p_value < 1e-4 else round(p_value, 6),
        "threshold": threshold,
        "mismatch": mismatch,
        "message": (
            f"sample ratio mismatch (p = {p_value:.2g}): exposed users do not match the weights; "
            "look for a bug in assignment or exposure tracking before trusting the results"
            if mismatch
            else "exposed users match the configured weights"
        ),
    }


# -- putting it together -------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def recommendation(
    tallies: Sequence[Tally],
    best: dict[str, float],
    lifts: dict[str, float | None],
    mismatch: dict[str, Any],
) -> str:
    """One sentence a person (or an agent) can act on."""
    if not any(t.users for t in tallies):
        return (
            "No exposures yet: the page must call aa.experiment() (or use data-aa-experiment) "
            "and the experiment must be active."
        )
    warning = f"Warning: {mismatch['message']}. " if mismatch["mismatch"] else ""
    short = [t for t in tallies if t.users < MIN_USERS_PER_VARIANT]
    if short:
        fewest = min(short, key=lambda t: t.users)
        return warning + (
            f"Keep running: '{fewest.key}' has {fewest.users} exposed users; about "
            f"{MIN_USERS_PER_VARIANT} per variant are needed before the results mean much."
        )
    leader = max(tallies, key=lambda t: best[t.key])
    p = best[leader.key]
    control = tallies[0]
    if p >= WIN_PROBABILITY:
        if leader is control:
            return warning + (
                f"'{control.key}' (the control) is best with {_pct(p)} probability: "
                "no variant beats it."
            )
        change = lifts[leader.key]
        over = f" ({change * 100:+.0f}% over '{control.key}')" if change is not None else ""
        return warning + f"'{leader.key}' is the winner with {_pct(p)} probability{over}."
    return warning + (
        f"No clear winner yet: '{leader.key}' leads with {_pct(p)} probability of being best; "
        f"keep running until one variant reaches {_pct(WIN_PROBABILITY)}."
    )


def analyze(tallies: Sequence[Tally]) -> dict[str, Any]:
    """The ``results`` object of ``GET /experiments/{id}``."""
    if len(tallies) < 2:
        raise ValueError("an experiment has at least two variants")
    best = probability_best(tallies)
    lifts = lift(tallies)
    mismatch = srm(tallies)
    return {
        "variants": [
            {
                "key": t.key,
                "exposures": t.exposures,
                "unique_users": t.users,
                "conversions": t.conversions,
                "conversion_rate": round(t.rate, 4),
            }
            for t in tallies
        ],
        "probability_best": best,
        "lift": lifts,
        "sufficient_data": sufficient_data(tallies),
        "recommendation": recommendation(tallies, best, lifts, mismatch),
        "sequential": sequential(tallies),
        "srm": mismatch,
    }
