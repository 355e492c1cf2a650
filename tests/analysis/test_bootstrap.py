import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis import bootstrap


def test_bca_matches_scipy_golden():
    sample = np.random.default_rng(1).gamma(2.0, size=25)
    ours = bootstrap.seed_bootstrap(sample[:, None], "mean", np.random.default_rng(2), 40000, 0.95, "bca")
    ref = stats.bootstrap((sample,), np.mean, method="BCa", n_resamples=40000, rng=np.random.default_rng(3))
    tol = 0.03 * sample.std()
    assert ours["ci_low"][0] == pytest.approx(ref.confidence_interval.low, abs=tol)
    assert ours["ci_high"][0] == pytest.approx(ref.confidence_interval.high, abs=tol)


def test_percentile_matches_scipy_golden():
    sample = np.random.default_rng(4).normal(size=30)
    ours = bootstrap.seed_bootstrap(sample[:, None], "mean", np.random.default_rng(5), 40000, 0.9, "percentile")
    ref = stats.bootstrap(
        (sample,), np.mean, method="percentile", confidence_level=0.9, n_resamples=40000, rng=np.random.default_rng(6)
    )
    assert ours["ci_low"][0] == pytest.approx(ref.confidence_interval.low, abs=0.02)
    assert ours["ci_high"][0] == pytest.approx(ref.confidence_interval.high, abs=0.02)


def test_iqm_is_scipy_trimmed_mean():
    values = np.arange(20.0) ** 2
    assert bootstrap.interquartile_mean(values) == pytest.approx(stats.trim_mean(values, 0.25))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=3, max_size=15), st.sampled_from(["mean", "sd", "iqm"]))
def test_interval_brackets_the_estimate(values, statistic):
    data = np.asarray(values)[:, None]
    out = bootstrap.seed_bootstrap(data, statistic, np.random.default_rng(0), 200, 0.95, "bca")
    assert out["ci_low"][0] <= out["estimate"][0] + 1e-9
    assert out["estimate"][0] <= out["ci_high"][0] + 1e-9


def test_seeds_stay_whole_across_cells():
    # two identical columns: a seed resample applied jointly keeps their replicates identical
    data = np.random.default_rng(0).normal(size=(12, 1)).repeat(2, axis=1)
    out = bootstrap.seed_bootstrap(data, "mean", np.random.default_rng(1), 500, 0.95, "percentile")
    assert out["ci_low"][0] == out["ci_low"][1] and out["ci_high"][0] == out["ci_high"][1]


def test_summary_columns_and_determinism():
    rng = np.random.default_rng(0)
    metrics = pd.DataFrame(
        [
            {"seed": s, "sigma": g, "draw": d, "accuracy": rng.uniform(), "ece": rng.uniform()}
            for s in range(6)
            for g in (0.0, 0.5)
            for d in range(3)
        ]
    )
    a = bootstrap.summarise_metrics(metrics, ["accuracy", "ece"], np.random.default_rng(7), 300, 0.9)
    b = bootstrap.summarise_metrics(metrics, ["accuracy", "ece"], np.random.default_rng(7), 300, 0.9)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == [
        "metric",
        "sigma",
        "statistic",
        "estimate",
        "ci_low",
        "ci_high",
        "confidence",
        "n_boot",
        "method",
        "n_seeds",
    ]
    mean = a.query("metric == 'accuracy' and sigma == 0.5 and statistic == 'mean'")["estimate"].iloc[0]
    assert mean == pytest.approx(metrics.query("sigma == 0.5")["accuracy"].mean())


def test_resample_counts_and_two_way_bootstrap():
    rng = np.random.default_rng(0)
    counts = bootstrap.resample_counts(rng, 7, 50)
    assert counts.shape == (50, 7) and (counts.sum(1) == 7).all()
    values = rng.normal(size=(5, 200))
    out = bootstrap.two_way_bootstrap_mean(values, rng, 1000, 0.95)
    assert out["estimate"] == pytest.approx(values.mean())
    assert out["ci_low"] < out["estimate"] < out["ci_high"]


def test_probability_of_improvement_is_mann_whitney():
    x, y = np.array([1, 2, 3, 3, 5.0]), np.array([2, 3, 4.0])
    u = stats.mannwhitneyu(x, y).statistic
    assert bootstrap.probability_of_improvement(x, y) == pytest.approx(u / (len(x) * len(y)))


def _coverage(n_reps: int, n_seeds: int, n_boot: int) -> float:
    rng = np.random.default_rng(123)
    hits = 0
    for _ in range(n_reps):
        sample = rng.normal(0.97, 0.002, size=(n_seeds, 1))
        out = bootstrap.seed_bootstrap(sample, "mean", rng, n_boot, 0.95, "bca")
        hits += out["ci_low"][0] <= 0.97 <= out["ci_high"][0]
    return hits / n_reps


def test_seed_bootstrap_coverage_quick():
    # 300 repetitions: the binomial SD of the coverage is 1.3 pp; BCa on 20 seeds runs about
    # 1-2 pp under nominal, so accept 0.89..0.99.
    assert 0.89 <= _coverage(300, 20, 500) <= 0.99


@pytest.mark.slow
def test_seed_bootstrap_coverage():
    # 2000 repetitions (binomial SD 0.5 pp); tolerance 0.92..0.975 allows BCa's small-sample undercoverage.
    assert 0.92 <= _coverage(2000, 20, 1000) <= 0.975


def _pair_interval_coverage(n_reps: int, n_draws: int = 5, n: int = 2000) -> float:
    """Two models identical in distribution (true accuracy difference 0): how often does the
    pair analysis's bootstrap (examples resampled, differences averaged over draws) cover 0?"""
    rng = np.random.default_rng(321)
    hits = 0
    for _ in range(n_reps):
        difficulty = rng.uniform(0.3, 1.0, size=n)  # shared by both models and every draw
        a = rng.uniform(size=(n_draws, n)) < difficulty
        b = rng.uniform(size=(n_draws, n)) < difficulty
        out = bootstrap.two_way_bootstrap_mean((a.astype(float) - b).mean(0, keepdims=True), rng, 400, 0.95)
        hits += out["ci_low"] <= 0 <= out["ci_high"]
    return hits / n_reps


def test_pair_bootstrap_coverage_quick():
    # 200 repetitions: binomial SD 1.5 pp, so accept 0.90..0.99.
    assert 0.9 <= _pair_interval_coverage(200) <= 0.99


@pytest.mark.slow
def test_pair_bootstrap_coverage():
    # 2000 repetitions (binomial SD 0.5 pp): nominal 0.95 within 1.5 pp.
    assert 0.935 <= _pair_interval_coverage(2000) <= 0.965
