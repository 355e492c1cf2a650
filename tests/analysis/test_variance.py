import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import TTestIndPower

from analysis import planning, variance


def _frame(slope_sd, seed=0, n_seeds=12, n_draws=4):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_seeds):
        intercept, slope = rng.normal(0, 0.01), rng.normal(0, slope_sd)
        for sigma in (0.2, 0.4, 0.6, 0.8):
            for d in range(n_draws):
                value = 0.9 - 0.5 * sigma + intercept + slope * sigma + rng.normal(0, 0.005)
                rows.append({"seed": s, "sigma": sigma, "draw": d, "accuracy": value})
    return pd.DataFrame(rows)


def test_variance_shares_match_one_way_anova():
    frame = _frame(0.05)
    out = variance.variance_shares(frame, ("accuracy",))
    group = frame[frame["sigma"] == 0.4]
    f = stats.f_oneway(*[g["accuracy"].to_numpy() for _, g in group.groupby("seed")]).statistic
    row = out[out["sigma"] == 0.4].iloc[0]
    ms_within = row["var_draw"]
    ms_between = row["var_seed"] * 4 + ms_within
    assert ms_between / ms_within == pytest.approx(f)
    assert 0 <= row["share_seed"] <= 1


def test_slope_test_detects_seed_specific_slopes():
    strong = variance.slope_variance_tests(_frame(0.1), ("accuracy",)).iloc[0]
    assert strong["converged"] and strong["p_val"] < 1e-3
    assert strong["slope_sd"] == pytest.approx(0.1, rel=0.6)
    none = variance.slope_variance_tests(_frame(0.0, seed=3), ("accuracy",)).iloc[0]
    assert none["p_val"] > 0.01


def test_robustness_auc_and_correlation():
    frame = _frame(0.05)
    frame = pd.concat(
        [frame, pd.DataFrame({"seed": range(12), "sigma": 0.0, "draw": 0, "accuracy": np.linspace(0.97, 0.98, 12)})]
    )
    auc = variance.robustness_auc(frame)
    per = frame.groupby(["seed", "sigma"])["accuracy"].mean().unstack()
    expected = np.trapezoid(per.loc[0].to_numpy(), per.columns.to_numpy()) / 0.8
    assert auc.loc[auc["seed"] == 0, "robust_auc"].iloc[0] == pytest.approx(expected)
    corr = variance.clean_vs_robust_correlation(auc, np.random.default_rng(0), 300, 0.95).iloc[0]
    ref = stats.spearmanr(auc["clean_accuracy"], auc["robust_auc"])
    assert corr["estimate"] == pytest.approx(ref.statistic) and corr["p_val"] == pytest.approx(ref.pvalue)
    assert corr["ci_low"] <= corr["estimate"] <= corr["ci_high"]


@pytest.mark.parametrize("effect, n", [(0.5, 20), (1.2, 5), (0.2, 100), (3.0, 2)])
def test_power_matches_statsmodels(effect, n):
    assert planning.two_sample_power(effect, n, 0.05) == pytest.approx(TTestIndPower().power(effect, n, 0.05), rel=1e-9)


def test_planner_half_width_and_monotone_power():
    summary = pd.DataFrame([{"metric": "accuracy", "sigma": 0.5, "statistic": "sd", "estimate": 0.02}])
    plan = planning.seed_planner(summary, 0.01, 0.05, 0.95)
    row = plan[plan["n_seeds"] == 10].iloc[0]
    assert row["ci_half_width"] == pytest.approx(stats.t.ppf(0.975, 9) * 0.02 / np.sqrt(10))
    assert plan["power"].is_monotonic_increasing
