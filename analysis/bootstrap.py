"""Bootstrap intervals over seeds (kept whole across sigma) and over seeds and examples jointly.

Every function that resamples takes a required ``rng`` (``numpy.random.Generator``).

References
----------
Efron, B. (1987). Better bootstrap confidence intervals. JASA 82(397), 171-185 (BCa).
Sellam, T. et al. (2022). The MultiBERTs: BERT reproductions for robustness analysis. ICLR
(multi-bootstrap over seeds and examples).
Agarwal, R. et al. (2021). Deep RL at the edge of the statistical precipice. NeurIPS
(interquartile mean, probability of improvement).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import special, stats


def interquartile_mean(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mean of the middle 50% of ``values`` along ``axis`` (scipy's 25% trimmed mean)."""
    return stats.trim_mean(values, 0.25, axis=axis)


STATISTICS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "mean": lambda v, axis: v.mean(axis=axis),
    "sd": lambda v, axis: v.std(axis=axis, ddof=1),
    "range": lambda v, axis: v.max(axis=axis) - v.min(axis=axis),
    "iqm": interquartile_mean,
}


def percentile_interval(boot: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval from bootstrap replicates ``(B, ...)``."""
    tail = (1 - confidence) / 2
    return np.quantile(boot, tail, axis=0), np.quantile(boot, 1 - tail, axis=0)


def bca_interval(
    estimate: np.ndarray, boot: np.ndarray, jackknife: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bias-corrected and accelerated interval (Efron 1987).

    ``estimate`` ``(...)``, ``boot`` ``(B, ...)`` replicates, ``jackknife`` ``(n, ...)``
    leave-one-out estimates. Where every replicate equals the estimate, the interval is that point.
    """
    n_boot = len(boot)
    below = (boot < estimate).sum(0) + 0.5 * (boot == estimate).sum(0)
    z0 = special.ndtri(np.clip(below / n_boot, 1 / (2 * n_boot), 1 - 1 / (2 * n_boot)))
    centred = jackknife.mean(0) - jackknife
    denom = 6 * (centred**2).sum(0) ** 1.5
    with np.errstate(invalid="ignore", divide="ignore"):
        accel = np.where(denom > 0, (centred**3).sum(0) / denom, 0.0)
    tail = (1 - confidence) / 2
    levels = []
    for z in (special.ndtri(tail), special.ndtri(1 - tail)):
        levels.append(special.ndtr(z0 + (z0 + z) / (1 - accel * (z0 + z))))
    low = _quantile_per_cell(boot, levels[0])
    high = _quantile_per_cell(boot, levels[1])
    flat = np.all(boot == boot[0], axis=0)
    return np.where(flat, estimate, low), np.where(flat, estimate, high)


def _quantile_per_cell(boot: np.ndarray, level: np.ndarray) -> np.ndarray:
    ordered = np.sort(boot, axis=0)
    n_boot = len(boot)
    position = np.clip(level * (n_boot - 1), 0, n_boot - 1)
    lo = np.floor(position).astype(int)
    hi = np.ceil(position).astype(int)
    frac = position - lo
    take = np.take_along_axis
    return take(ordered, lo[None], 0)[0] * (1 - frac) + take(ordered, hi[None], 0)[0] * frac


def seed_bootstrap(
    per_seed: np.ndarray, statistic: str, rng: np.random.Generator, n_boot: int, confidence: float, method: str = "bca"
) -> dict[str, np.ndarray]:
    """Bootstrap a statistic over seeds; ``per_seed`` is ``(n_seeds, ...)``.

    One resample of seed indices is applied to every trailing cell at once, so a seed stays
    whole across sigma and metrics. Returns ``estimate``, ``ci_low``, ``ci_high`` (each ``(...)``).
    """
    fn = STATISTICS[statistic]
    n = len(per_seed)
    estimate = fn(per_seed, 0)
    index = rng.integers(0, n, size=(n_boot, n))  # (B, S)
    boot = fn(per_seed[index], 1)  # (B, ...)
    if method == "bca":
        jack = np.stack([fn(np.delete(per_seed, i, axis=0), 0) for i in range(n)])
        low, high = bca_interval(estimate, boot, jack, confidence)
    else:
        low, high = percentile_interval(boot, confidence)
    return {"estimate": estimate, "ci_low": low, "ci_high": high}


def summarise_metrics(
    metrics: pd.DataFrame, metric_names: list[str], rng: np.random.Generator, n_boot: int, confidence: float
) -> pd.DataFrame:
    """Per-sigma mean, between-seed SD, range and IQM of every metric, with seed-bootstrap BCa CIs.

    ``metrics``: one row per (seed, sigma, draw); a seed's value at a sigma is its mean over draws.

    Returns
    -------
    DataFrame with columns ``metric, sigma, statistic, estimate, ci_low, ci_high, confidence,
    n_boot, method, n_seeds``: one row per (metric, sigma, statistic).
    """
    per_seed = metrics.groupby(["seed", "sigma"])[metric_names].mean()  # (S * G) rows
    sigmas = per_seed.index.get_level_values("sigma").unique().sort_values()
    seeds = per_seed.index.get_level_values("seed").unique()
    cube = per_seed.to_numpy().reshape(len(seeds), len(sigmas), len(metric_names))  # (S, G, M)
    rows = []
    for statistic in STATISTICS:
        result = seed_bootstrap(cube, statistic, rng, n_boot, confidence, "bca")
        for g, sigma in enumerate(sigmas):
            for m, metric in enumerate(metric_names):
                rows.append(
                    {
                        "metric": metric,
                        "sigma": float(sigma),
                        "statistic": statistic,
                        "estimate": result["estimate"][g, m],
                        "ci_low": result["ci_low"][g, m],
                        "ci_high": result["ci_high"][g, m],
                        "confidence": confidence,
                        "n_boot": n_boot,
                        "method": "seed bootstrap (BCa)",
                        "n_seeds": len(seeds),
                    }
                )
    return pd.DataFrame(rows).sort_values(["metric", "statistic", "sigma"], ignore_index=True)


def resample_counts(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    """How often each of ``n`` items is drawn in each of ``n_boot`` resamples: ``(n_boot, n)``."""
    index = rng.integers(0, n, size=(n_boot, n)) + n * np.arange(n_boot)[:, None]
    return np.bincount(index.ravel(), minlength=n * n_boot).reshape(n_boot, n).astype(np.float64)


def two_way_bootstrap_mean(
    values: np.ndarray, rng: np.random.Generator, n_boot: int, confidence: float
) -> dict[str, float]:
    """Bootstrap the grand mean of ``values`` ``(n_rows, n_examples)``, resampling rows and
    examples jointly (percentile interval).

    With rows = seeds this is the MultiBERTs multi-bootstrap; with rows = noise draws and
    values = paired differences it is the paired bootstrap of a fixed pair. The replicate mean
    is ``w_r^T V w_e / (R n)`` with multinomial count vectors ``w_r`` and ``w_e``.
    """
    n_rows, n_examples = values.shape
    w_row = resample_counts(rng, n_rows, n_boot)  # (B, R)
    w_example = resample_counts(rng, n_examples, n_boot)  # (B, n)
    boot = ((w_row @ values) * w_example).sum(1) / (n_rows * n_examples)  # (B,)
    low, high = percentile_interval(boot, confidence)
    return {"estimate": float(values.mean()), "ci_low": float(low), "ci_high": float(high)}


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """``P(X > Y) + P(X = Y) / 2`` over all pairs of ``x`` and ``y`` values (Mann-Whitney U / nm)."""
    x = np.asarray(x, dtype=float)[:, None]
    y = np.asarray(y, dtype=float)[None, :]
    return float(((x > y) + 0.5 * (x == y)).mean())
