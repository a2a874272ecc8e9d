"""The significance maths by hand and against scipy, and the verdict's words in each case a student can meet."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from cnnviz.results import significance

A, B = [1.0, 2.0, 3.0], [4.0, 6.0, 8.0]  # mean 2, sd 1; mean 6, sd 2


def test_group_is_mean_sample_std_and_count_of_finite_values() -> None:
    assert significance.group([1.0, 2.0, 3.0, math.nan]) == significance.Group(2.0, 1.0, 3)


def test_z_score_is_the_reports_formula() -> None:
    assert significance.z_score(A, B) == pytest.approx(-4 / math.sqrt(1 + 4))  # (2 - 6) / sqrt(1² + 2²)
    assert math.isnan(significance.z_score([1.0, 1.0], [2.0, 2.0]))


@pytest.mark.parametrize("seed", range(6))
def test_welch_equals_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(0.9, 0.01 * (1 + seed), 2 + seed).tolist()
    b = rng.normal(0.9 + 0.005 * seed, 0.02, 3 + 2 * seed).tolist()
    ours, theirs = significance.welch(a, b), stats.ttest_ind(a, b, equal_var=False)
    assert ours.t == pytest.approx(theirs.statistic, abs=1e-10, rel=1e-10)
    assert ours.df == pytest.approx(theirs.df, abs=1e-10, rel=1e-10)
    assert ours.p == pytest.approx(theirs.pvalue, abs=1e-10, rel=1e-10)


def test_welch_is_nan_below_two_runs_or_without_spread() -> None:
    assert all(math.isnan(v) for v in vars(significance.welch([0.9], [0.8, 0.7])).values())
    assert all(math.isnan(v) for v in vars(significance.welch([0.9, 0.9], [0.8, 0.8])).values())


def test_runs_needed_by_hand() -> None:
    # pooled σ = sqrt((2 · 1² + 2 · 2²) / 4) = sqrt(2.5) = 1.5811; δ = 4; z_0.975 + z_0.8 = 1.95996 + 0.84162 = 2.80158
    # n = 2 (2.80158 · 1.5811 / 4)² = 2 · 1.22638 = 2.45 -> 3
    assert significance.pooled_std(A, B) == pytest.approx(math.sqrt(2.5))
    assert significance.runs_needed(A, B) == 3
    # δ = 0.002, σ = 0.01: n = 2 (2.80158 · 5)² = 392.4 -> 393
    assert significance.runs_needed([0.902, 0.912, 0.922], [0.900, 0.910, 0.920]) == 393
    assert significance.runs_needed([0.9, 0.8], [0.8, 0.9]) == math.inf


def test_verdict_distinguishable() -> None:
    words = significance.verdict([0.90, 0.92, 0.91], [0.80, 0.81, 0.82], "accuracy")
    assert words.startswith("accuracy: a difference of 0.1 (0.91 vs 0.81) with 3 runs each: distinguishable")
    assert "not" not in words and "p < 0.001" in words


def test_verdict_not_distinguishable_says_how_many_runs_would_tell() -> None:
    a, b = [0.902, 0.912, 0.922], [0.900, 0.910, 0.920]
    words = significance.verdict(a, b, "mean IoU")
    p = stats.ttest_ind(a, b, equal_var=False).pvalue
    assert words == (f"mean IoU: a difference of 0.002 (0.912 vs 0.91) with 3 runs each: not distinguishable from "
                     f"luck, p = {p:.2g}; about 393 runs each would be needed to tell.")


@pytest.mark.parametrize("a, b, phrase", [
    ([0.9], [0.8, 0.85], "1 run and 2 runs: one run cannot tell"),
    ([0.9], [0.8], "1 run each: one run cannot tell"),
    ([0.9, 0.9, 0.9], [0.8, 0.8, 0.8], "every run of each gave exactly the same value"),
    ([0.9, 0.9], [0.9, 0.9], "no difference at all"),
    ([0.9, 0.8], [0.8, 0.9], "the means are equal"),
    ([0.90001, 0.8], [0.8, 0.9], "over 1,000 runs each would be needed"),
    ([], [0.9], "no finished runs"),
    ([math.nan, math.nan], [0.9, 0.8], "no finished runs"),
])
def test_verdict_in_the_edge_cases_has_words_and_no_nan(a: list[float], b: list[float], phrase: str) -> None:
    words = significance.verdict(a, b, "accuracy")
    assert phrase in words and "nan" not in words.lower() and "inf" not in words
