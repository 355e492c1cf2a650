"""Where the variance comes from: seeds versus noise draws, and seed-specific slopes in sigma.

References
----------
Lindstrom, M. J., Bates, D. M. (1988). Newton-Raphson and EM algorithms for linear mixed-effects
models for repeated-measures data. JASA 83 (the model statsmodels' MixedLM fits).
Self, S. G., Liang, K.-Y. (1987). Asymptotic properties of maximum likelihood estimators and
likelihood ratio tests under nonstandard conditions. JASA 82 (the 50:50 chi-square mixture).
Spearman, C. (1904). The proof and measurement of association between two things.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

from analysis.bootstrap import percentile_interval

NOISY_METRICS = ("accuracy", "flip_rate", "confidence", "nll", "brier", "ece")


def variance_shares(metrics: pd.DataFrame, metric_names: tuple[str, ...] = NOISY_METRICS) -> pd.DataFrame:
    """One-way random-effects decomposition at each sigma > 0: seed versus noise draw.

    With S seeds and D draws, ``MS_between`` and ``MS_within`` from a one-way ANOVA on seed give
    ``var_draw = MS_within`` and ``var_seed = max(0, (MS_between - MS_within) / D)``.

    Returns ``metric, sigma, var_seed, var_draw, share_seed`` (``var_seed / (var_seed + var_draw)``).
    """
    rows = []
    noisy = metrics[metrics["sigma"] > 0]
    for (sigma,), group in noisy.groupby(["sigma"]):
        n_draws = group.groupby("seed").size().iloc[0]
        for metric in metric_names:
            by_seed = group.groupby("seed")[metric]
            means = by_seed.mean()
            n_seeds = len(means)
            ms_between = n_draws * ((means - group[metric].mean()) ** 2).sum() / (n_seeds - 1)
            ms_within = (
                (((group[metric] - group["seed"].map(means)) ** 2).sum() / (n_seeds * (n_draws - 1)))
                if n_draws > 1
                else np.nan
            )
            var_seed = max(0.0, (ms_between - ms_within) / n_draws) if n_draws > 1 else ms_between / n_draws
            total = var_seed + (ms_within if n_draws > 1 else 0.0)
            rows.append(
                {
                    "metric": metric,
                    "sigma": float(sigma),
                    "var_seed": var_seed,
                    "var_draw": ms_within,
                    "share_seed": var_seed / total if total > 0 else np.nan,
                }
            )
    return pd.DataFrame(rows)


def _fit(formula: str, data: pd.DataFrame, re_formula: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smf.mixedlm(formula, data, groups=data["seed"], re_formula=re_formula)
        return model.fit(reml=False, method=["lbfgs", "powell"])


def slope_variance_tests(metrics: pd.DataFrame, metric_names: tuple[str, ...] = NOISY_METRICS) -> pd.DataFrame:
    """Mixed model of each metric with a random intercept and a random slope in sigma per seed.

    The mean curve is a fixed effect per sigma level (``C(sigma)``), since metrics are far from
    linear in sigma; the random part ``1 + sigma | seed`` asks whether seeds differ in how
    fast they degrade. A likelihood-ratio test (ML fits) compares it with the random-intercept-only model; under the
    null (no between-seed slope variance) the statistic follows a 50:50 mixture of chi2(1) and
    chi2(2) (Self & Liang 1987). Fitted on every (seed, sigma > 0, draw) row.

    Returns ``metric, slope_sd, intercept_sd, residual_sd, statistic, p_val, converged, test``
    (SDs of the random effects and of the residual, in metric units).
    """
    data = metrics[metrics["sigma"] > 0].copy()
    rows = []
    for metric in metric_names:
        scale = data[metric].std()
        data["y"] = (data[metric] - data[metric].mean()) / scale  # the LRT is scale-free
        try:
            full = _fit("y ~ C(sigma)", data, "~sigma")
            reduced = _fit("y ~ C(sigma)", data, "~1")
        except (np.linalg.LinAlgError, ValueError):
            rows.append(
                {
                    "metric": metric,
                    "slope_sd": np.nan,
                    "intercept_sd": np.nan,
                    "residual_sd": np.nan,
                    "statistic": np.nan,
                    "p_val": np.nan,
                    "converged": False,
                    "test": "LRT random slope (ML): fit failed",
                }
            )
            continue
        statistic = max(0.0, 2 * (full.llf - reduced.llf))
        p_val = 0.5 * stats.chi2.sf(statistic, 1) + 0.5 * stats.chi2.sf(statistic, 2)
        cov = np.asarray(full.cov_re)
        rows.append(
            {
                "metric": metric,
                "slope_sd": scale * float(np.sqrt(max(cov[1, 1], 0))),
                "intercept_sd": scale * float(np.sqrt(max(cov[0, 0], 0))),
                "residual_sd": scale * float(np.sqrt(full.scale)),
                "statistic": statistic,
                "p_val": p_val,
                "converged": bool(full.converged and reduced.converged),
                "test": "LRT random slope (ML), 50:50 chi2(1):chi2(2)",
            }
        )
    return pd.DataFrame(rows)


def robustness_auc(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per seed: clean accuracy and the area under its accuracy-vs-sigma curve (trapezoid,
    mean over draws), normalised by the sigma range so it is a mean accuracy.

    Returns ``seed, clean_accuracy, robust_auc``.
    """
    per = metrics.groupby(["seed", "sigma"])["accuracy"].mean().unstack("sigma")  # (S, G)
    sigmas = per.columns.to_numpy(dtype=float)
    auc = np.trapezoid(per.to_numpy(), sigmas, axis=1) / (sigmas.max() - sigmas.min())
    return pd.DataFrame({"seed": per.index.to_numpy(), "clean_accuracy": per[0.0].to_numpy(), "robust_auc": auc})


def clean_vs_robust_correlation(
    auc: pd.DataFrame, rng: np.random.Generator, n_boot: int, confidence: float
) -> pd.DataFrame:
    """Spearman correlation across seeds of clean accuracy with robustness AUC, with a
    seed-bootstrap percentile CI and scipy's test of zero correlation.

    Returns one row: ``estimate, ci_low, ci_high, confidence, n_boot, method, p_val, n_seeds``.
    """
    x, y = auc["clean_accuracy"].to_numpy(), auc["robust_auc"].to_numpy()
    result = stats.spearmanr(x, y)
    index = rng.integers(0, len(x), size=(n_boot, len(x)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)  # a resample of tied seeds
        boot = np.array([stats.spearmanr(x[i], y[i]).statistic for i in index])
    boot = boot[np.isfinite(boot)]
    low, high = percentile_interval(boot, confidence)
    return pd.DataFrame(
        [
            {
                "estimate": result.statistic,
                "ci_low": low,
                "ci_high": high,
                "confidence": confidence,
                "n_boot": n_boot,
                "method": "Spearman rho, seed bootstrap (percentile)",
                "p_val": result.pvalue,
                "n_seeds": len(x),
            }
        ]
    )
