"""How many seeds does a claim need? Precision and power as functions of the number of seeds,
from the between-seed spread observed in this study.

References
----------
Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences (two-sample t power,
computed with statsmodels' ``TTestIndPower``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

SEED_COUNTS = (2, 3, 5, 10, 20, 30, 50, 100)


def two_sample_power(effect: float, n_per_group: int, alpha: float) -> float:
    """Power of the two-sided two-sample t-test for standardised ``effect`` (Cohen's d), equal
    groups; the noncentral-t computation of statsmodels' ``TTestIndPower`` (which returns NaN
    for very large effects, where the power is 1 to machine precision)."""
    if not np.isfinite(effect):
        return 1.0
    df = 2 * n_per_group - 2
    noncentrality = effect * np.sqrt(n_per_group / 2)
    t_crit = stats.t.ppf(1 - alpha / 2, df)
    power = stats.nct.sf(t_crit, df, noncentrality) + stats.nct.cdf(-t_crit, df, noncentrality)
    return float(power) if np.isfinite(power) else 1.0


def seed_planner(
    summary: pd.DataFrame,
    delta: float,
    alpha: float,
    confidence: float,
    metrics: tuple[str, ...] = ("accuracy", "flip_rate"),
    seed_counts: tuple[int, ...] = SEED_COUNTS,
) -> pd.DataFrame:
    """CI half-width of a mean over N seeds and the power to detect a difference ``delta``
    between two groups of N seeds each (two-sided two-sample t at ``alpha``).

    ``summary`` is the output of :func:`analysis.bootstrap.summarise_metrics` (its ``sd`` rows
    give the between-seed SD per metric and sigma).

    Returns ``metric, sigma, n_seeds, sd, ci_half_width, delta, power``.
    """
    sd_rows = summary[(summary["statistic"] == "sd") & summary["metric"].isin(metrics)]
    rows = []
    for row in sd_rows.itertuples():
        for n in seed_counts:
            half = stats.t.ppf(0.5 + confidence / 2, n - 1) * row.estimate / np.sqrt(n)
            effect = delta / row.estimate if row.estimate > 0 else np.inf
            power = two_sample_power(effect, n, alpha)
            rows.append(
                {
                    "metric": row.metric,
                    "sigma": row.sigma,
                    "n_seeds": n,
                    "sd": row.estimate,
                    "ci_half_width": half,
                    "delta": delta,
                    "power": power,
                }
            )
    return pd.DataFrame(rows)
