import numpy as np
import pandas as pd
import pytest

from analysis import divergence
from tests.analysis.synthetic import make_cube


def test_pair_analysis_columns_and_tests():
    cube = make_cube(n=2000)
    table = divergence.pair_analysis(cube, 0, 1, 0.02, 0.05, np.random.default_rng(0), 300, 0.95)
    assert list(table.columns) == [
        "sigma",
        "metric",
        "estimate",
        "ci_low",
        "ci_high",
        "statistic",
        "p_val",
        "p_adj",
        "effect_size",
        "test",
        "confidence",
        "n_boot",
    ]
    tost = table[table["metric"] == "accuracy_equivalence"].iloc[0]
    assert tost["ci_low"] <= tost["estimate"] <= tost["ci_high"]
    acc = table[table["metric"] == "accuracy"]
    assert (acc["p_adj"] >= acc["p_val"]).all()
    expected = cube.correct[0, cube.conditions_at(0.3)].mean() - cube.correct[1, cube.conditions_at(0.3)].mean()
    assert acc[acc["sigma"] == 0.3]["estimate"].iloc[0] == pytest.approx(expected)
    tested = table[table["metric"].isin(["accuracy", "flip_rate", "confidence"])]
    assert (tested["ci_low"] <= tested["estimate"] + 1e-12).all() and (
        tested["estimate"] <= tested["ci_high"] + 1e-12
    ).all()


def test_identical_models_never_diverge():
    cube = make_cube(n_seeds=3, n=1000)
    cube.pred[1] = cube.pred[0]
    table = divergence.pair_analysis(cube, 0, 1, 0.01, 0.05, np.random.default_rng(0), 200, 0.95)
    acc = table[table["metric"] == "accuracy"]
    assert (acc["estimate"] == 0).all() and (acc["p_val"] == 1).all()
    pairs = divergence.all_pairs(cube, 0.01, 0.05)
    same = pairs[(pairs["seed_a"] == 0) & (pairs["seed_b"] == 1)]
    assert same["equivalent"].all() and not same["diverges"].any()


def test_all_pairs_and_generalisation():
    cube = make_cube(n_seeds=6, n=3000)
    pairs = divergence.all_pairs(cube, 0.05, 0.05)
    assert len(pairs) == 15 * 2
    tested = pairs[pairs["equivalent"]]
    assert tested["p_adj"].notna().all() and pairs.loc[~pairs["equivalent"], "p_adj"].isna().all()
    gen = divergence.generalisation(pairs, cube.seeds, np.random.default_rng(0), 500, 0.95)
    for row in gen.itertuples():
        sub = pairs[pairs["sigma"] == row.sigma]
        assert row.n_equivalent == sub["equivalent"].sum()
        assert row.estimate == pytest.approx(sub["diverges"].sum() / sub["equivalent"].sum())
        assert row.ci_low <= row.estimate <= row.ci_high


def test_generalisation_is_one_when_every_equivalent_pair_diverges():
    seeds = np.arange(4)
    rows = [
        {"seed_a": i, "seed_b": j, "sigma": 0.5, "equivalent": True, "diverges": True}
        for i in range(4)
        for j in range(i + 1, 4)
    ]
    gen = divergence.generalisation(pd.DataFrame(rows), seeds, np.random.default_rng(0), 200, 0.95)
    assert gen[["estimate", "ci_low", "ci_high"]].iloc[0].tolist() == [1.0, 1.0, 1.0]


def test_disagreement_matrix_is_symmetric_with_zero_diagonal():
    cube = make_cube(n_seeds=4)
    m = divergence.disagreement_matrix(cube, 0.3).pivot(index="seed_a", columns="seed_b", values="disagreement")
    np.testing.assert_allclose(m.to_numpy(), m.to_numpy().T)
    assert (np.diag(m.to_numpy()) == 0).all()


def test_multi_bootstrap_table_estimates_are_means():
    cube = make_cube(n_seeds=4)
    table = divergence.multi_bootstrap_table(cube, np.random.default_rng(0), 300, 0.95)
    row = table[(table["quantity"] == "mean_accuracy") & (table["sigma"] == 0.6)].iloc[0]
    assert row["estimate"] == pytest.approx(cube.correct[:, cube.conditions_at(0.6)].mean())


def test_ranking_consistency_is_one_for_a_fixed_order_and_matches_the_pairwise_definition():
    cube = make_cube(n_seeds=4, n_draws=3, n=500)
    table = divergence.ranking_consistency(cube, np.random.default_rng(0), 300, 0.95)
    row = table[table["sigma"] == 0.3].iloc[0]
    acc = cube.correct[:, cube.conditions_at(0.3)].mean(-1)
    from analysis.bootstrap import probability_of_improvement

    expected = np.mean(
        [abs(2 * probability_of_improvement(acc[i], acc[j]) - 1) for i in range(4) for j in range(i + 1, 4)]
    )
    assert row["estimate"] == pytest.approx(expected)
    assert row["ci_low"] <= row["estimate"] <= row["ci_high"]
    # seeds whose accuracies never cross: the same seed wins on every draw
    ordered = make_cube(n_seeds=3, n_draws=3, n=500)
    for s in range(3):
        ordered.pred[s, 1:] = np.where(np.arange(500) < 100 * (s + 1), ordered.labels, (ordered.labels + 1) % 10)
    fixed = divergence.ranking_consistency(ordered, np.random.default_rng(0), 200, 0.95)
    assert (fixed["estimate"] == 1.0).all()
