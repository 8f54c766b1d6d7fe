"""Exact intervals and tests of the verdicts, against scipy's own and textbook values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from faultprobe.analysis import stats


def test_clopper_pearson_textbook_values_and_edges():
    lo, hi = stats.clopper_pearson(5, 10)
    assert (lo, hi) == pytest.approx((0.18709, 0.81291), abs=1e-5)
    assert stats.clopper_pearson(0, 10) == pytest.approx((0.0, 0.30850), abs=1e-5)
    assert stats.clopper_pearson(10, 10)[1] == 1.0
    assert np.isnan(stats.clopper_pearson(0, 0)[0])


def test_exact_tests_match_scipy():
    for k1, n1, k2, n2 in [(5, 43, 52, 57), (20, 40, 25, 40), (0, 3, 3, 3)]:
        ref = sps.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="less").pvalue
        assert stats.fisher_less_p(k1, n1, k2, n2) == pytest.approx(ref, rel=1e-9)
    ref = sps.binomtest(60, 100, 0.5, alternative="greater").pvalue
    assert stats.binom_above_p(60, 100, 0.5) == pytest.approx(ref, rel=1e-9)


def test_power_is_the_pass_rate_of_the_test():
    # at the null the binomial test passes at most alpha of the time; far from it, always
    assert stats.power_above(0.5, 200, 0.5) <= stats.ALPHA
    assert stats.power_above(0.8, 200, 0.5) > 0.999
    rng = np.random.default_rng(0)
    k = rng.binomial(120, 0.6, 4000)
    rate = np.mean([stats.binom_above_p(int(v), 120, 0.5) < stats.ALPHA for v in k])
    assert rate == pytest.approx(stats.power_above(0.6, 120, 0.5), abs=0.03)
    assert stats.power_less(0.5, 40, 0.5, 200) <= stats.ALPHA
    assert stats.power_less(0.3, 60, 0.9, 300) > 0.999


def test_chance_check_fails_a_null_pipeline_at_most_alpha_of_the_time():
    rng = np.random.default_rng(1)
    n = [80, 84, 78]
    fails = 0
    for _ in range(3000):
        k = [int(rng.binomial(m, 0.5)) for m in n]
        fails += not stats.inside_chance_every_seed(k, n, 2)
    assert fails / 3000 <= stats.ALPHA
    assert not stats.inside_chance_every_seed([70, 42, 40], n, 2)


def test_pooled_verdicts():
    assert stats.pool([90, 88, 91], [100] * 3, 2).verdict().startswith("above chance")
    assert stats.pool([50, 52, 49], [100] * 3, 2).verdict() == "inside the chance band"
    # pooled 186/300 rejects chance, but every seed stays inside its band
    assert stats.pool([62, 62, 62], [100] * 3, 2).verdict().startswith("weakly above chance")
    assert stats.pool([90], [100], 2).verdict() == "1 seed(s): a verdict needs 3"
    assert stats.linear_r2([1, 2, 3, 4], [2, 4, 6, 8.5]) > 0.99


def test_one_chance_interval_and_the_power_formulas_are_the_exact_tests():
    """The diagnostics and the run summaries share one chance interval; the vectorised
    formulas inside the power functions give the p-values of scipy's exact tests."""
    from faultprobe.ml import metrics

    assert stats.chance_interval is metrics.chance_interval
    assert np.isnan(metrics.chance_interval(0, 2)[0])
    lo, hi = sps.binom.interval(0.99, 100, 0.5)
    assert metrics.chance_interval(100, 2) == (lo / 100, hi / 100)
    for k, n, p0 in [(60, 100, 0.5), (3, 40, 0.25), (0, 5, 0.5), (120, 120, 0.9)]:
        assert sps.binom.sf(k - 1, n, p0) == pytest.approx(stats.binom_above_p(k, n, p0), rel=1e-12)
    for k1, n1, k2, n2 in [(5, 43, 52, 57), (20, 40, 25, 40), (0, 3, 3, 3), (7, 7, 0, 9)]:
        hyper = sps.hypergeom.cdf(k1, n1 + n2, k1 + k2, n1)
        assert hyper == pytest.approx(stats.fisher_less_p(k1, n1, k2, n2), rel=1e-12)
