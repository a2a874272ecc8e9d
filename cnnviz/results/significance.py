"""Is the difference real? Two groups of runs (one final metric per seed) compared the way a student should.

Non-finite values (a diverged run's NaN) are left out before anything is computed.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from cnnviz.results.compare import mean_std

ALPHA = 0.05  # two-sided significance level
POWER = 0.8   # chance of detecting a difference that is really there
MANY = 1000   # runs per group beyond which the verdict stops giving a number


@dataclass(frozen=True)
class Group:
    """One group's final metric over its runs."""

    mean: float
    std: float  # sample standard deviation (n - 1); 0 for a single run
    n: int


@dataclass(frozen=True)
class Welch:
    """Welch's t-test of two means without assuming equal variances."""

    t: float
    df: float
    p: float  # two-sided


def group(values: Sequence[float]) -> Group:
    """Mean, sample standard deviation (exactly 0 when every run is equal) and count of the finite `values`."""
    finite = [float(v) for v in values if math.isfinite(v)]
    mean, std = mean_std(finite)
    return Group(mean, 0.0 if len(set(finite)) == 1 else std, len(finite))  # equal runs: no rounding noise


def z_score(a: Sequence[float], b: Sequence[float]) -> float:
    """(mean a - mean b) / sqrt(σa² + σb²), σ each group's standard deviation: the course report's formula.

    It divides by the spread of single runs, not by the standard error sqrt(σa²/na + σb²/nb) of the means, so
    it does not grow with more runs; Welch's t below is the test. NaN when both groups have no spread.
    """
    ga, gb = group(a), group(b)
    spread = math.hypot(ga.std, gb.std)
    return (ga.mean - gb.mean) / spread if spread > 0 else math.nan


def welch(a: Sequence[float], b: Sequence[float]) -> Welch:
    """Welch's t, its Welch-Satterthwaite degrees of freedom and the two-sided p from Student's t tail.

    NaN throughout when a group has fewer than two runs or neither group has any spread.
    """
    ga, gb = group(a), group(b)
    va, vb = ga.std ** 2 / max(ga.n, 1), gb.std ** 2 / max(gb.n, 1)  # squared standard errors of the means
    if min(ga.n, gb.n) < 2 or va + vb == 0:
        return Welch(math.nan, math.nan, math.nan)
    t = (ga.mean - gb.mean) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (ga.n - 1) + vb ** 2 / (gb.n - 1))
    return Welch(t, df, float(2 * stats.t.sf(abs(t), df)))


def pooled_std(a: Sequence[float], b: Sequence[float]) -> float:
    """sqrt(((na - 1) σa² + (nb - 1) σb²) / (na + nb - 2)): one spread for both groups; NaN below two runs in all."""
    ga, gb = group(a), group(b)
    dof = ga.n + gb.n - 2
    return math.sqrt(((ga.n - 1) * ga.std ** 2 + (gb.n - 1) * gb.std ** 2) / dof) if dof > 0 else math.nan


def runs_needed(a: Sequence[float], b: Sequence[float], alpha: float = ALPHA, power: float = POWER) -> float:
    """Runs per group that would tell the observed difference apart at `alpha` with `power`.

    A normal approximation, n = 2 ((z_{1-α/2} + z_power) σ / δ)², with δ the observed difference of means and σ
    the pooled standard deviation, rounded up (at least 2). inf when the means are equal, NaN when σ is unknown.
    """
    ga, gb = group(a), group(b)
    delta, sigma = abs(ga.mean - gb.mean), pooled_std(a, b)
    if math.isnan(sigma) or math.isnan(delta):
        return math.nan
    if delta == 0:
        return math.inf
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(max(2, math.ceil(2 * (z * sigma / delta) ** 2)))


def verdict(a: Sequence[float], b: Sequence[float], metric_name: str) -> str:
    """The comparison in words for a student: the difference, the runs, whether it is more than luck, and why."""
    ga, gb = group(a), group(b)
    if ga.n == 0 or gb.n == 0:
        return f"{metric_name}: a group has no finished runs, so there is nothing to compare."
    delta = ga.mean - gb.mean
    head = f"{metric_name}: a difference of {_num(delta)} ({_num(ga.mean)} vs {_num(gb.mean)}) with {_runs(ga.n, gb.n)}"
    if min(ga.n, gb.n) < 2:
        return (f"{head}: one run cannot tell a real difference from luck, because nothing shows how much another "
                "seed would move it; run at least 3 seeds of each.")
    if ga.std == 0 and gb.std == 0:
        if delta == 0:
            return f"{head}: every run gave the same value, so there is no difference at all."
        return (f"{head}: every run of each gave exactly the same value, so the gap is not luck of the seed; "
                "but with no spread there is no p-value to give.")
    if delta == 0:
        return f"{head}: the means are equal, so there is no difference to find, however many runs."
    test, needed = welch(a, b), runs_needed(a, b)
    if test.p < ALPHA:
        return f"{head}: distinguishable from luck, {_p(test.p)}."
    if needed > MANY:
        return (f"{head}: not distinguishable from luck, {_p(test.p)}; over {MANY:,} runs each would be needed "
                "to tell, so the difference is tiny next to the spread between runs.")
    return (f"{head}: not distinguishable from luck, {_p(test.p)}; "
            f"about {int(needed)} runs each would be needed to tell.")


def _runs(na: int, nb: int) -> str:
    """The run counts in words: '3 runs each', '1 run and 3 runs'."""
    def word(n: int) -> str:
        return f"{n} run" if n == 1 else f"{n} runs"
    return f"{word(na)} each" if na == nb else f"{word(na)} and {word(nb)}"


def _num(x: float) -> str:
    """Three significant figures, as a student would write a metric or a difference."""
    return f"{x:.3g}"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"
