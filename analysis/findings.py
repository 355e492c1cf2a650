"""Plain-language findings and figure captions, generated from the analysis tables.

Every sentence quotes numbers from a table; nothing here computes a statistic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.load import RunData
from analysis.tables import Tables


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


def _pp(x: float, digits: int = 2) -> str:
    return f"{100 * x:+.{digits}f} pp"


def _p(p: float) -> str:
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}"


def _row(summary: pd.DataFrame, metric: str, sigma: float, statistic: str = "mean") -> pd.Series:
    sel = summary[
        (summary["metric"] == metric) & (summary["statistic"] == statistic) & np.isclose(summary["sigma"], sigma)
    ]
    return sel.iloc[0]


def findings(run: RunData, t: Tables) -> list[str]:
    """The report's opening sentences."""
    cfg = run.config.analysis
    level = f"{100 * cfg.confidence:g}% CI"
    n = len(run.seeds)
    a, b = run.pair
    clean = _row(t.summary, "accuracy", 0.0)
    sd = _row(t.summary, "accuracy", 0.0, "sd")
    spread = _row(t.summary, "accuracy", 0.0, "range")
    out = [
        f"Across {n} seeds, mean clean test accuracy is {_pct(clean.estimate, 2)} ({level} "
        f"{_pct(clean.ci_low, 2)} to {_pct(clean.ci_high, 2)}); seeds differ by an SD of "
        f"{100 * sd.estimate:.2f} pp and a range of {100 * spread.estimate:.2f} pp."
    ]
    if len(run.failed):
        out.append(
            f"{len(run.failed)} seed(s) failed during training and are excluded from every "
            f"analysis: {', '.join(map(str, run.failed['seed']))} (see the failed-seeds table)."
        )
    tost = t.pair[t.pair["metric"] == "accuracy_equivalence"].iloc[0]
    verdict = "are equivalent" if tost.p_val < cfg.alpha else "could not be shown equivalent"
    out.append(
        f"Model A (seed {a}) and Model B (seed {b}) {verdict} on clean data within "
        f"+/-{100 * cfg.tost_margin:g} pp (TOST, difference {_pp(tost.estimate)}, {_p(tost.p_val)})."
    )
    acc = t.pair[(t.pair["metric"] == "accuracy") & (t.pair["sigma"] > 0)]
    if len(acc):
        significant = acc[acc["p_adj"] < cfg.alpha]
        worst = acc.loc[acc["estimate"].abs().idxmax()]
        out.append(
            f"Under noise their accuracy differs significantly (exact McNemar, Holm-adjusted) at "
            f"{len(significant)} of {len(acc)} noise levels; the largest gap is "
            f"{_pp(worst.estimate)} at sigma = {worst.sigma:g} ({level} {_pp(worst.ci_low)} to "
            f"{_pp(worst.ci_high)})."
        )
    gen = t.generalisation[t.generalisation["quantity"] == "fraction_equivalent_pairs_diverging"]
    n_pairs = n * (n - 1) // 2
    if len(gen) and gen["n_equivalent"].max() > 0:
        focus = gen.iloc[np.argmin(np.abs(gen["sigma"].to_numpy() - t.focus_sigma))]
        peak = gen.loc[gen["estimate"].idxmax()]
        out.append(
            f"Across seeds: {int(focus.n_equivalent)} of {n_pairs} seed pairs are equivalent on "
            f"clean data, and at sigma = {focus.sigma:g}, {int(focus.n_diverging)} of those "
            f"{int(focus.n_equivalent)} diverge significantly ({_pct(focus.estimate)}, {level} "
            f"{_pct(focus.ci_low)} to {_pct(focus.ci_high)}; Benjamini-Hochberg over pairs and "
            f"sigmas). The share peaks at {_pct(peak.estimate)} at sigma = {peak.sigma:g}."
        )
    elif len(gen):
        out.append(
            f"None of the {n_pairs} seed pairs could be shown equivalent on clean data within "
            f"+/-{100 * cfg.tost_margin:g} pp, so divergence among equivalent pairs cannot be "
            "assessed; more test examples or a wider analysis.tost_margin would be needed."
        )
    ranking = t.generalisation[t.generalisation["quantity"] == "seed_ranking_consistency"]
    if len(ranking):
        focus = ranking.iloc[np.argmin(np.abs(ranking["sigma"].to_numpy() - t.focus_sigma))]
        verdict = "hardly depends on" if focus.estimate >= 0.5 else "often changes with"
        out.append(
            f"Which of two seeds is more accurate at sigma = {focus.sigma:g} {verdict} the noise draw: the mean of "
            f"|2 P(seed i beats seed j) - 1| over pairs is {focus.estimate:.2f} ({level} {focus.ci_low:.2f} to "
            f"{focus.ci_high:.2f}; 0 would be a coin flip, 1 the same winner every draw)."
        )
    shares = t.variance_shares[t.variance_shares["metric"] == "accuracy"]
    if len(shares):
        focus = shares.iloc[np.argmin(np.abs(shares["sigma"].to_numpy() - t.focus_sigma))]
        slope = t.slope_tests[t.slope_tests["metric"] == "accuracy"].iloc[0]
        slope_text = (
            "seeds also differ in how fast accuracy falls with sigma "
            f"(likelihood-ratio test of the random slope, {_p(slope.p_val)})"
            if slope.p_val < cfg.alpha
            else f"there is no evidence that seeds differ in how fast accuracy falls ({_p(slope.p_val)})"
        )
        out.append(
            f"At sigma = {focus.sigma:g}, differences between seeds make up "
            f"{_pct(focus.share_seed)} of the variance of accuracy, the rest being noise draws; "
            f"{slope_text}."
        )
    corr = t.correlation.iloc[0]
    predicts = "does not predict" if corr.ci_low <= 0 <= corr.ci_high else "predicts"
    out.append(
        f"Clean accuracy {predicts} robustness: Spearman rho between clean accuracy and the "
        f"area under the accuracy-vs-sigma curve is {corr.estimate:.2f} ({level} "
        f"{corr.ci_low:.2f} to {corr.ci_high:.2f}, {_p(corr.p_val)})."
    )
    plan = t.planner[(t.planner["metric"] == "accuracy") & np.isclose(t.planner["sigma"], t.focus_sigma)]
    if len(plan):
        enough = plan[plan["power"] >= 0.8]
        need = (
            f"{int(enough['n_seeds'].min())} seeds per group"
            if len(enough)
            else f"more than {int(plan['n_seeds'].max())} seeds per group"
        )
        out.append(
            f"Planning: at sigma = {t.focus_sigma:g} the between-seed SD of accuracy is "
            f"{100 * plan['sd'].iloc[0]:.2f} pp, so detecting a {100 * cfg.planner_delta:g} pp "
            f"difference with 80% power needs {need}."
        )
    return out


def captions(run: RunData, t: Tables) -> dict[str, str]:
    """One caption per figure; each doubles as the figure's alt text."""
    a, b = run.pair
    n = len(run.seeds)
    hist = run.history
    last = hist[hist["epoch"] == hist["epoch"].max()]
    val = last[last["split"] == "val"]
    caps = {
        "loss_curves": f"Training and validation cross-entropy per epoch for {n} seeds (thin grey lines); "
        f"Model A (seed {a}, blue circles, solid) and Model B (seed {b}, vermillion squares, "
        f"dashed). Final validation loss ranges from {val['loss'].min():.3f} to {val['loss'].max():.3f}.",
        "accuracy_curves": f"Training and validation accuracy per epoch for {n} seeds; final validation "
        f"accuracy ranges from {_pct(val['accuracy'].min(), 2)} to {_pct(val['accuracy'].max(), 2)}. "
        f"Model A blue circles, solid; Model B vermillion squares, dashed.",
    }
    for metric in ("accuracy", "flip_rate", "confidence", "ece"):
        rows = t.summary[(t.summary["metric"] == metric) & (t.summary["statistic"] == "mean")]
        first, final = rows.iloc[0], rows.iloc[-1]
        caps[f"{metric}_vs_sigma"] = (
            f"{metric.replace('_', ' ').capitalize()} against Gaussian noise sigma: mean over {n} seeds (black line) "
            f"with its {100 * run.config.analysis.confidence:g}% seed-bootstrap BCa band (grey), each seed as a thin "
            f"grey line, Model A (blue circles, solid) and Model B (vermillion squares, dashed). The mean goes from "
            f"{first.estimate:.3f} at sigma = {first.sigma:g} to {final.estimate:.3f} at sigma = {final.sigma:g}."
        )
    rel = t.reliability
    parts = []
    for sigma, group in rel.groupby("sigma"):
        gap = np.average(np.abs(group["accuracy"] - group["confidence"]), weights=group["count"])
        parts.append(f"sigma = {sigma:g}: mean |accuracy - confidence| {gap:.3f}")
    caps["calibration"] = (
        "Reliability diagram pooled over seeds and draws, one line per noise level "
        "(colour, dash and marker differ); the dotted diagonal is perfect calibration. " + "; ".join(parts) + "."
    )
    dis = t.disagreement[t.disagreement["seed_a"] != t.disagreement["seed_b"]]["disagreement"]
    caps["divergence_matrix"] = (
        f"Pairwise disagreement at sigma = {t.focus_sigma:g}: the share of test images "
        f"two seeds label differently, mean over draws, printed in each cell (viridis "
        f"scale). Off-diagonal values range from {_pct(dis.min())} to {_pct(dis.max())} "
        f"(median {_pct(dis.median())})."
    )
    corr = t.correlation.iloc[0]
    caps["robustness"] = (
        f"Each seed's clean accuracy against its mean accuracy over the sigma grid; Model A blue "
        f"circle, Model B vermillion square, other seeds grey triangles. Spearman rho = "
        f"{corr.estimate:.2f} ({corr.ci_low:.2f} to {corr.ci_high:.2f})."
    )
    gen = t.generalisation[t.generalisation["quantity"] == "fraction_equivalent_pairs_diverging"]
    span = (
        f"from {_pct(gen['estimate'].min())} to {_pct(gen['estimate'].max())} across the grid"
        if gen["estimate"].notna().any()
        else "no pair was equivalent on clean data, so nothing is plotted"
    )
    caps["generalisation"] = (
        "Share of clean-equivalent seed pairs whose accuracy diverges significantly, per "
        f"noise level, with seed-bootstrap percentile intervals; {span}."
    )
    caps["planner"] = (
        "Seed-count planner for accuracy: left, the half-width of the confidence interval of the "
        "mean over N seeds; right, the power of a two-sample t-test to detect a difference of "
        f"{run.config.analysis.planner_delta:g}; one line per noise level (colour, dash and marker differ)."
    )
    return caps
