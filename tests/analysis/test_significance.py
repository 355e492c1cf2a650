import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.weightstats import ttost_paired

from analysis import significance


@pytest.mark.parametrize("b, c", [(5, 12), (51, 82), (0, 9), (30, 30), (3, 0)])
def test_mcnemar_matches_statsmodels(b, c):
    ref = mcnemar([[100, b], [c, 50]], exact=True)
    statistic, p = significance.mcnemar_exact(b, c)
    assert statistic == ref.statistic
    assert p == pytest.approx(ref.pvalue, rel=1e-10)


def test_tost_matches_statsmodels():
    rng = np.random.default_rng(0)
    a = (rng.uniform(size=3000) < 0.97).astype(float)
    b = np.where(rng.uniform(size=3000) < 0.03, 1 - a, a)
    ours = significance.tost_paired(a, b, 0.005)
    p_ref, lower, upper = ttost_paired(a, b, -0.005, 0.005)
    assert ours["p_val"] == pytest.approx(p_ref, rel=1e-9)


def test_binary_tost_equals_general_tost():
    rng = np.random.default_rng(1)
    correct = rng.uniform(size=(3, 5000)) < [[0.97], [0.96], [0.975]]
    only_a, only_b = significance.discordant_counts(correct)
    est, p = significance.tost_paired_binary(only_a, only_b, 5000, 0.01)
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        ref = significance.tost_paired(correct[i], correct[j], 0.01)
        assert est[i, j] == pytest.approx(ref["estimate"]) and p[i, j] == pytest.approx(ref["p_val"], rel=1e-9)


def test_discordant_counts_brute_force():
    correct = np.random.default_rng(2).uniform(size=(4, 300)) < 0.6
    only_a, only_b = significance.discordant_counts(correct)
    assert only_a[1, 3] == (correct[1] & ~correct[3]).sum()
    assert only_b[1, 3] == (correct[3] & ~correct[1]).sum()


def test_adjustments_golden():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # Holm by hand: sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1 -> 0.02, 0.03, 0.06, 0.06 (monotone)
    np.testing.assert_allclose(significance.adjust(p, "holm"), [0.03, 0.06, 0.06, 0.02])
    # BH by hand: 0.04*4/4, 0.03*4/3, 0.01*4/2, 0.005*4/1 -> 0.04, 0.04, 0.02, 0.02
    np.testing.assert_allclose(significance.adjust(p, "bh"), [0.02, 0.04, 0.04, 0.02])


def _mcnemar_rejection_rate(n_reps, n=2000, alpha=0.05):
    rng = np.random.default_rng(10)
    rejections = 0
    for _ in range(n_reps):
        a = rng.uniform(size=n) < 0.9
        b = np.where(rng.uniform(size=n) < 0.05, rng.uniform(size=n) < 0.9, a)
        only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
        rejections += significance.mcnemar_exact(only_a, only_b)[1] < alpha
    return rejections / n_reps


def test_mcnemar_type_one_error_quick():
    # identical-in-distribution models; exact McNemar is conservative: rate <= alpha + 2.5 SD.
    assert _mcnemar_rejection_rate(400) <= 0.05 + 2.5 * np.sqrt(0.05 * 0.95 / 400)


@pytest.mark.slow
def test_mcnemar_type_one_error():
    rate = _mcnemar_rejection_rate(5000)
    assert rate <= 0.05 + 2.5 * np.sqrt(0.05 * 0.95 / 5000)


def _tost_rejection_rate(true_diff, n_reps, n=10000, discordance=0.02, margin=0.005):
    """Two models whose accuracy differs by ``true_diff``, with realistic per-example disagreement."""
    rng = np.random.default_rng(11)
    hits = 0
    p_only_a = discordance / 2 + true_diff / 2
    p_only_b = discordance / 2 - true_diff / 2
    for _ in range(n_reps):
        counts = rng.multinomial(n, [p_only_a, p_only_b, 1 - p_only_a - p_only_b])
        _, p = significance.tost_paired_binary(np.array(counts[0]), np.array(counts[1]), n, margin)
        hits += p < 0.05
    return hits / n_reps


def test_tost_default_margin_has_power_and_holds_size():
    # two models of equal accuracy disagreeing on 2% of 10,000 images: power near 1
    assert _tost_rejection_rate(0.0, 500) >= 0.9
    # at the margin itself, equivalence must be claimed at most alpha of the time
    assert _tost_rejection_rate(0.005, 2000) <= 0.05 + 2.5 * np.sqrt(0.05 * 0.95 / 2000)
