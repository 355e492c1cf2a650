"""Do two equivalent models diverge under noise, and does that generalise across seeds?

:func:`pair_analysis` treats the tutorial's Model A and Model B; :func:`all_pairs` repeats the
equivalence and divergence tests for every pair of seeds; :func:`generalisation` turns those
verdicts into a fraction with a seed-bootstrap CI.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from analysis.bootstrap import (
    percentile_interval,
    probability_of_improvement,
    resample_counts,
    two_way_bootstrap_mean,
)
from analysis.load import PredictionCube
from analysis.significance import adjust, discordant_counts, mcnemar_exact, tost_paired, tost_paired_binary

PAIR_METRICS = ("accuracy", "flip_rate", "confidence")


def _outcome(cube: PredictionCube, metric: str) -> np.ndarray:
    return {"accuracy": cube.correct, "flip_rate": cube.flipped, "confidence": cube.confidence}[metric]


def pair_analysis(
    cube: PredictionCube,
    seed_a: int,
    seed_b: int,
    margin: float,
    alpha: float,
    rng: np.random.Generator,
    n_boot: int,
    confidence: float,
) -> pd.DataFrame:
    """Model A vs Model B on paired per-example outcomes.

    Rows: one TOST of clean-accuracy equivalence (``metric`` = ``accuracy_equivalence``; CI is
    the ``1 - 2 alpha`` interval that TOST inverts); then for each sigma and metric (accuracy,
    flip rate, confidence) the mean paired difference A - B with a paired bootstrap CI over
    test examples (each example's difference averaged over the noise draws first: examples
    are the independent units; resampling the few shared draws as well would double-count
    their variance and over-cover), tested on draw 0 (exact McNemar for accuracy and flip
    rate, paired t for confidence), Holm-adjusted across the sigma grid per metric; and the
    probability that A beats B on a fresh noise draw (``p_a_beats_b``, no test).

    Returns
    -------
    DataFrame with columns ``sigma, metric, estimate, ci_low, ci_high, statistic, p_val, p_adj,
    effect_size, test, confidence, n_boot``.
    """
    ia, ib = cube.seed_index(seed_a), cube.seed_index(seed_b)
    clean_a, clean_b = cube.correct[ia, 0], cube.correct[ib, 0]
    tost = tost_paired(clean_a, clean_b, margin)
    t_crit = stats.t.ppf(1 - alpha, len(clean_a) - 1)
    rows = [
        {
            "sigma": 0.0,
            "metric": "accuracy_equivalence",
            "estimate": tost["estimate"],
            "ci_low": tost["estimate"] - t_crit * tost["se"],
            "ci_high": tost["estimate"] + t_crit * tost["se"],
            "statistic": tost["statistic"],
            "p_val": tost["p_val"],
            "p_adj": tost["p_val"],
            "effect_size": tost["estimate"],
            "test": f"TOST paired t, margin +/-{margin:g}",
            "confidence": 1 - 2 * alpha,
            "n_boot": 0,
        }
    ]
    for metric in PAIR_METRICS:
        outcome = _outcome(cube, metric)
        metric_rows = []
        for sigma in np.unique(cube.sigmas):
            if metric == "flip_rate" and sigma == 0:
                continue
            conds = cube.conditions_at(sigma)
            diff = outcome[ia, conds].astype(float) - outcome[ib, conds].astype(float)  # (D, n)
            boot = two_way_bootstrap_mean(diff.mean(0, keepdims=True), rng, n_boot, confidence)  # examples only
            first = conds[0]
            if metric == "confidence":
                result = stats.ttest_rel(outcome[ia, first], outcome[ib, first])
                statistic, p_val, effect, test = result.statistic, result.pvalue, boot["estimate"], "paired t (draw 0)"
            else:
                only_a = int((outcome[ia, first] & ~outcome[ib, first]).sum())
                only_b = int((outcome[ib, first] & ~outcome[ia, first]).sum())
                statistic, p_val = mcnemar_exact(only_a, only_b)
                effect = only_a / only_b if only_b else np.inf
                test = "exact McNemar (draw 0)"
            metric_rows.append(
                {
                    "sigma": float(sigma),
                    "metric": metric,
                    **boot,
                    "statistic": statistic,
                    "p_val": p_val,
                    "effect_size": effect,
                    "test": test,
                    "confidence": confidence,
                    "n_boot": n_boot,
                }
            )
        p_adj = adjust([r["p_val"] for r in metric_rows], "holm")
        for row, p in zip(metric_rows, p_adj, strict=True):
            row["p_adj"] = p
            row["test"] += ", Holm over sigma"
        rows += metric_rows
    for sigma in np.unique(cube.sigmas):
        conds = cube.conditions_at(sigma)
        acc = cube.correct[:, conds].mean(-1)  # (S, D)
        rows.append(
            {
                "sigma": float(sigma),
                "metric": "p_a_beats_b",
                "estimate": probability_of_improvement(acc[ia], acc[ib]),
                "ci_low": np.nan,
                "ci_high": np.nan,
                "statistic": np.nan,
                "p_val": np.nan,
                "p_adj": np.nan,
                "effect_size": np.nan,
                "test": "P(acc_A > acc_B) over noise draws",
                "confidence": np.nan,
                "n_boot": 0,
            }
        )
    columns = [
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
    return pd.DataFrame(rows)[columns]


def all_pairs(cube: PredictionCube, margin: float, alpha: float) -> pd.DataFrame:
    """Equivalence (clean TOST) and divergence (McNemar on draw 0 at each sigma > 0) of every pair.

    Divergence is tested only for pairs shown equivalent on clean data; those p-values are
    Benjamini-Hochberg adjusted together, over pairs and sigmas.

    Returns
    -------
    DataFrame, one row per (seed_a, seed_b, sigma > 0): ``seed_a, seed_b, sigma, clean_diff,
    tost_p, equivalent, acc_diff`` (mean over draws, A - B), ``n_a_only, n_b_only`` (draw 0),
    ``statistic, p_val, p_adj, diverges, test``.
    """
    n_seeds, _, n = cube.pred.shape
    clean_a_only, clean_b_only = discordant_counts(cube.correct[:, 0])
    clean_diff, tost_p = tost_paired_binary(clean_a_only, clean_b_only, n, margin)
    accuracy = cube.correct.mean(-1)  # (S, C)
    rows = []
    for sigma in np.unique(cube.sigmas[cube.sigmas > 0]):
        conds = cube.conditions_at(sigma)
        a_only, b_only = discordant_counts(cube.correct[:, conds[0]])
        mean_acc = accuracy[:, conds].mean(1)
        for i, j in itertools.combinations(range(n_seeds), 2):
            equivalent = bool(tost_p[i, j] < alpha)
            statistic, p_val = mcnemar_exact(int(a_only[i, j]), int(b_only[i, j])) if equivalent else (np.nan, np.nan)
            rows.append(
                {
                    "seed_a": int(cube.seeds[i]),
                    "seed_b": int(cube.seeds[j]),
                    "sigma": float(sigma),
                    "clean_diff": clean_diff[i, j],
                    "tost_p": tost_p[i, j],
                    "equivalent": equivalent,
                    "acc_diff": mean_acc[i] - mean_acc[j],
                    "n_a_only": int(a_only[i, j]),
                    "n_b_only": int(b_only[i, j]),
                    "statistic": statistic,
                    "p_val": p_val,
                }
            )
    frame = pd.DataFrame(rows)
    tested = frame["equivalent"].to_numpy()
    frame["p_adj"] = np.nan
    frame.loc[tested, "p_adj"] = adjust(frame.loc[tested, "p_val"].to_numpy(), "bh")
    frame["diverges"] = frame["p_adj"].lt(alpha)
    frame["test"] = "exact McNemar (draw 0), BH over equivalent pairs x sigma"
    return frame


def _pair_weighted_ratio(
    numerator: np.ndarray, denominator: np.ndarray, weights: np.ndarray, confidence: float
) -> tuple[float, float, float]:
    """``sum(numerator) / sum(denominator)`` over seed pairs (``(S, S)`` upper-triangular
    matrices), and its percentile interval when seeds are resampled with counts ``weights``
    ``(B, S)``: a pair then counts ``w_i w_j`` times."""
    den = np.einsum("bi,ij,bj->b", weights, denominator, weights)
    num = np.einsum("bi,ij,bj->b", weights, numerator, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = num / den
    boot = boot[np.isfinite(boot)]
    low, high = percentile_interval(boot, confidence) if len(boot) else (np.nan, np.nan)
    estimate = numerator.sum() / denominator.sum() if denominator.sum() else np.nan
    return float(estimate), float(low), float(high)


def ranking_consistency(cube: PredictionCube, rng: np.random.Generator, n_boot: int, confidence: float) -> pd.DataFrame:
    """How consistently one seed beats another across noise draws, per sigma > 0.

    For seeds i and j, ``P_ij`` is the rliable probability of improvement of i's accuracy over
    j's across the noise draws (``P(X > Y) + P(X = Y) / 2``); the quantity is the mean over
    pairs of ``|2 P_ij - 1|``: 0 when which seed does better is a coin flip from draw to draw,
    1 when the same seed wins on every draw. Seed-bootstrap percentile CI (pairs weighted
    ``w_i w_j``). Needs at least two draws.

    Returns ``sigma, quantity, estimate, ci_low, ci_high, confidence, n_boot, method``.
    """
    n_seeds = len(cube.seeds)
    pairs = np.triu(np.ones((n_seeds, n_seeds)), k=1)
    weights = resample_counts(rng, n_seeds, n_boot)  # (B, S)
    rows = []
    for sigma in np.unique(cube.sigmas[cube.sigmas > 0]):
        conds = cube.conditions_at(sigma)
        if len(conds) < 2:
            continue
        acc = cube.correct[:, conds].mean(-1)  # (S, D)
        x, y = acc[:, None, :, None], acc[None, :, None, :]
        improvement = ((x > y) + 0.5 * (x == y)).mean(axis=(2, 3))  # (S, S)
        decisive = np.abs(2 * improvement - 1) * pairs
        estimate, low, high = _pair_weighted_ratio(decisive, pairs, weights, confidence)
        rows.append(
            {
                "sigma": float(sigma),
                "quantity": "seed_ranking_consistency",
                "estimate": estimate,
                "ci_low": low,
                "ci_high": high,
                "confidence": confidence,
                "n_boot": n_boot,
                "method": "mean |2 P(X_i > X_j) - 1| over pairs, seed bootstrap (percentile)",
            }
        )
    return pd.DataFrame(rows)


def generalisation(
    pairs: pd.DataFrame, seeds: np.ndarray, rng: np.random.Generator, n_boot: int, confidence: float
) -> pd.DataFrame:
    """Fraction of clean-equivalent pairs that diverge, per sigma, with a seed-bootstrap CI.

    Pairs share seeds, so the bootstrap resamples seeds (multinomial counts ``w``) and weights
    each pair by ``w_i w_j``; self-pairs carry no weight. Percentile interval.

    Returns
    -------
    DataFrame ``sigma, quantity, estimate, ci_low, ci_high, confidence, n_boot, method,
    n_equivalent, n_diverging``.
    """
    pos = {int(s): k for k, s in enumerate(seeds)}
    n_seeds = len(seeds)
    weights = resample_counts(rng, n_seeds, n_boot)  # (B, S)
    rows = []
    for sigma, group in pairs.groupby("sigma"):
        equivalent = np.zeros((n_seeds, n_seeds))
        diverging = np.zeros((n_seeds, n_seeds))
        i = group["seed_a"].map(pos).to_numpy()
        j = group["seed_b"].map(pos).to_numpy()
        equivalent[i, j] = group["equivalent"].to_numpy()
        diverging[i, j] = (group["equivalent"] & group["diverges"]).to_numpy()
        n_equivalent, n_diverging = int(equivalent.sum()), int(diverging.sum())
        estimate, low, high = _pair_weighted_ratio(diverging, equivalent, weights, confidence)
        rows.append(
            {
                "sigma": float(sigma),
                "quantity": "fraction_equivalent_pairs_diverging",
                "estimate": estimate,
                "ci_low": low,
                "ci_high": high,
                "confidence": confidence,
                "n_boot": n_boot,
                "method": "seed bootstrap (percentile), pairs weighted w_i w_j",
                "n_equivalent": n_equivalent,
                "n_diverging": n_diverging,
            }
        )
    return pd.DataFrame(rows)


def multi_bootstrap_table(
    cube: PredictionCube, rng: np.random.Generator, n_boot: int, confidence: float
) -> pd.DataFrame:
    """MultiBERTs multi-bootstrap (seeds and examples jointly) of each per-example metric's mean.

    Returns ``sigma, quantity, estimate, ci_low, ci_high, confidence, n_boot, method``.
    """
    rows = []
    for metric in PAIR_METRICS:
        outcome = _outcome(cube, metric)
        for sigma in np.unique(cube.sigmas):
            if metric == "flip_rate" and sigma == 0:
                continue
            values = outcome[:, cube.conditions_at(sigma)].astype(float).mean(1)  # (S, n)
            rows.append(
                {
                    "sigma": float(sigma),
                    "quantity": f"mean_{metric}",
                    **two_way_bootstrap_mean(values, rng, n_boot, confidence),
                    "confidence": confidence,
                    "n_boot": n_boot,
                    "method": "multi-bootstrap over seeds and examples (percentile)",
                }
            )
    return pd.DataFrame(rows)


def disagreement_matrix(cube: PredictionCube, sigma: float) -> pd.DataFrame:
    """Fraction of test examples on which two seeds predict different classes, mean over draws.

    Returns ``seed_a, seed_b, sigma, disagreement`` for every ordered pair (diagonal 0).
    """
    conds = cube.conditions_at(sigma)
    n_seeds = len(cube.seeds)
    matrix = np.zeros((n_seeds, n_seeds))
    for c in conds:
        pred = cube.pred[:, c]  # (S, n)
        matrix += (pred[:, None, :] != pred[None, :, :]).mean(-1)
    matrix /= len(conds)
    a, b = np.meshgrid(cube.seeds, cube.seeds, indexing="ij")
    return pd.DataFrame(
        {"seed_a": a.ravel(), "seed_b": b.ravel(), "sigma": float(sigma), "disagreement": matrix.ravel()}
    )
