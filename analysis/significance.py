"""Paired tests on per-example outcomes and multiple-testing corrections.

References
----------
McNemar, Q. (1947). Note on the sampling error of the difference between correlated proportions
or percentages. Psychometrika 12, 153-157 (exact form: binomial test on discordant pairs).
Schuirmann, D. J. (1987). A comparison of the two one-sided tests procedure and the power
approach for assessing the equivalence of average bioavailability. J Pharmacokinet Biopharm 15.
Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scand J Stat 6.
Benjamini, Y., Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B 57.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests

ADJUSTMENTS = {"holm": "holm", "bh": "fdr_bh"}


def mcnemar_exact(n_a_only: int, n_b_only: int) -> tuple[float, float]:
    """Exact McNemar test from the discordant counts.

    ``n_a_only``: items A gets right and B wrong; ``n_b_only``: the reverse. Null: both kinds
    of discordance are equally likely. Returns ``(statistic, p_val)`` with statistic
    ``min(n_a_only, n_b_only)`` and the two-sided binomial p-value (as statsmodels' ``mcnemar``
    with ``exact=True``).
    """
    n = n_a_only + n_b_only
    if n == 0:
        return 0.0, 1.0
    p = stats.binomtest(min(n_a_only, n_b_only), n, 0.5).pvalue
    return float(min(n_a_only, n_b_only)), float(min(1.0, p))


def tost_paired(a: np.ndarray, b: np.ndarray, margin: float) -> dict[str, float]:
    """Two one-sided paired t-tests that ``mean(a - b)`` lies within ``(-margin, margin)``.

    Null: the mean paired difference is at most ``-margin`` or at least ``margin``; rejecting it
    (small ``p_val``) shows equivalence. Same computation as statsmodels' ``ttost_paired``.
    Returns ``estimate`` (mean difference), ``statistic`` (the t of the less significant side),
    ``p_val`` (the larger one-sided p-value) and ``se``.
    """
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(diff)
    mean, se = diff.mean(), diff.std(ddof=1) / np.sqrt(n)
    if se == 0:
        inside = -margin < mean < margin
        return {
            "estimate": mean,
            "statistic": np.inf if inside else -np.inf,
            "p_val": 0.0 if inside else 1.0,
            "se": 0.0,
        }
    t_low = (mean + margin) / se
    t_high = (mean - margin) / se
    p_low = stats.t.sf(t_low, n - 1)
    p_high = stats.t.cdf(t_high, n - 1)
    worse = (t_low, p_low) if p_low >= p_high else (t_high, p_high)
    return {"estimate": mean, "statistic": float(worse[0]), "p_val": float(worse[1]), "se": float(se)}


def tost_paired_binary(
    n_a_only: np.ndarray, n_b_only: np.ndarray, n: int, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`tost_paired` for 0/1 outcomes, vectorised over pairs, from discordant counts.

    The paired difference takes values +1 (``n_a_only`` times), -1 (``n_b_only``) and 0, so its
    mean and SD follow from the counts. Returns ``(estimate, p_val)`` arrays.
    """
    a, b = np.asarray(n_a_only, dtype=float), np.asarray(n_b_only, dtype=float)
    mean = (a - b) / n
    var = (a + b - n * mean**2) / (n - 1)
    se = np.sqrt(np.maximum(var, 0) / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_low = stats.t.sf((mean + margin) / se, n - 1)
        p_high = stats.t.cdf((mean - margin) / se, n - 1)
    p = np.maximum(p_low, p_high)
    p = np.where(se == 0, np.where(np.abs(mean) < margin, 0.0, 1.0), p)
    return mean, p


def adjust(p_values: np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values: ``method`` ``holm`` (family-wise) or ``bh`` (false discovery rate)."""
    p_values = np.asarray(p_values, dtype=float)
    if p_values.size == 0:
        return p_values
    return multipletests(p_values, method=ADJUSTMENTS[method])[1]


def discordant_counts(correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For correctness ``(S, n)`` (bool): ``n_only[i, j]`` = items i gets right and j wrong."""
    c = correct.astype(np.float32)
    only = c @ (1 - c).T  # (S, S)
    return np.rint(only).astype(np.int64), np.rint(only.T).astype(np.int64)
