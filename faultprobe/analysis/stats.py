"""Exact tests and intervals for the diagnostics' verdicts, on counts pooled over seeds.

A statistical claim of the paper (a station above chance, a band below another, the false
interval classified worse than the rest) is judged on counts of test events, pooled over
at least three seeds, with an exact test at a stated significance, never on one run's
accuracy: one run's rounding (CPU instruction set, thread count) can flip a dozen test
predictions.  Pure functions of counts; scipy's distributions do the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from faultprobe.ml.metrics import chance_interval

ALPHA = 0.01  # significance of every verdict and shape test
MIN_SEEDS = 3


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a proportion k/n; (nan, nan) for n = 0."""
    if n <= 0:
        return float("nan"), float("nan")
    a = 1.0 - level
    lo = 0.0 if k <= 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k >= n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def binom_above_p(k: int, n: int, p0: float) -> float:
    """One-sided exact binomial p-value of k successes in n against a rate of p0 (H1: > p0)."""
    if n <= 0:
        return 1.0
    return float(stats.binomtest(int(k), int(n), p0, alternative="greater").pvalue)


def fisher_less_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """One-sided Fisher exact p-value of H1: k1/n1 < k2/n2 (conditional on the margins)."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    table = [[int(k1), int(n1 - k1)], [int(k2), int(n2 - k2)]]
    return float(stats.fisher_exact(table, alternative="less").pvalue)


def inside_chance_every_seed(
    correct: list[int], n: list[int], n_classes: int, alpha: float = ALPHA
) -> bool:
    """Every seed's accuracy inside its chance band at level 1 - alpha / seeds (Bonferroni):
    a pipeline with nothing to learn fails this with probability at most alpha, however
    alike the seeds' predictions are (they share most test events, so pooling them would
    understate the spread)."""
    level = 1.0 - alpha / max(len(n), 1)
    for k, m in zip(correct, n):
        lo, hi = chance_interval(m, n_classes, level)
        if not lo <= k / m <= hi:
            return False
    return True


def power_above(p_true: float, n: int, p0: float, alpha: float = ALPHA) -> float:
    """Probability that `binom_above_p` < alpha when the true rate is p_true."""
    k_crit = int(stats.binom.isf(alpha, n, p0)) + 1  # smallest k with sf(k - 1) <= alpha
    while k_crit > 0 and binom_above_p(k_crit - 1, n, p0) < alpha:
        k_crit -= 1
    return float(stats.binom.sf(k_crit - 1, n, p_true))


def power_less(p1: float, n1: int, p2: float, n2: int, alpha: float = ALPHA) -> float:
    """Probability that `fisher_less_p` < alpha when the true rates are p1 < p2 (exact sum
    over both binomials)."""
    k1 = np.arange(n1 + 1)[:, None]
    k2 = np.arange(n2 + 1)[None, :]
    p = stats.hypergeom.cdf(k1, n1 + n2, k1 + k2, n1)
    w = stats.binom.pmf(k1, n1, p1) * stats.binom.pmf(k2, n2, p2)
    return float(w[p < alpha].sum())


def linear_r2(x, y) -> float:
    """R² of the least-squares line through (x, y)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1] ** 2)


@dataclass(frozen=True)
class Pooled:
    """Test events pooled over seeds: k correct of n, per-seed lists, and the verdict."""

    k: int
    n: int
    seeds: int
    n_classes: int
    per_seed_k: tuple[int, ...]
    per_seed_n: tuple[int, ...]

    @property
    def accuracy(self) -> float:
        return self.k / self.n if self.n else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        """95 % Clopper-Pearson interval of the pooled accuracy."""
        return clopper_pearson(self.k, self.n)

    @property
    def p_above_chance(self) -> float:
        return binom_above_p(self.k, self.n, 1.0 / self.n_classes)

    @property
    def inside_chance(self) -> bool:
        return inside_chance_every_seed(
            list(self.per_seed_k), list(self.per_seed_n), self.n_classes
        )

    def verdict(self, alpha: float = ALPHA) -> str:
        """What the pooled test events say about chance, at significance alpha.

        `above chance`: the pooled binomial test rejects chance and some seed lies outside
        its chance band; `inside the chance band`: every seed inside its band and the
        pooled test does not reject chance; `weakly above chance`: the pooled test rejects
        chance while every seed stays inside its band (seeds share most test events, so
        the pooled p understates the spread); otherwise `not shown above chance`.
        """
        if self.n == 0:
            return "no test events"
        if self.seeds < MIN_SEEDS:
            return f"{self.seeds} seed(s): a verdict needs {MIN_SEEDS}"
        p, inside = self.p_above_chance, self.inside_chance
        if p < alpha:
            if inside:
                return f"weakly above chance (pooled p = {p:.1g}; every seed in its chance band)"
            return f"above chance (p = {p:.1g})"
        if inside:
            return "inside the chance band"
        return f"not shown above chance (p = {p:.2g})"


def pool(correct, n, n_classes: int) -> Pooled:
    """Pool per-seed counts (correct test events, test events)."""
    ks = tuple(int(v) for v in correct)
    ns = tuple(int(v) for v in n)
    return Pooled(sum(ks), sum(ns), len(ns), n_classes, ks, ns)
