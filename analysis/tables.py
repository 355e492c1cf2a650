"""Run every analysis of a results folder and collect the tables the report shows.

Each analysis draws from its own child of the ``analysis`` stream, so adding or reordering
analyses never changes another's numbers; everything is deterministic given ``analysis_seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import bootstrap, calibration, divergence, planning, variance
from analysis.load import PredictionCube, RunData
from bench import seeding
from bench.scoring import METRICS

ANALYSES = ("summary", "pair", "generalisation", "multi_bootstrap", "correlation", "ranking")


@dataclass(frozen=True)
class Tables:
    summary: pd.DataFrame
    pair: pd.DataFrame
    pairs: pd.DataFrame
    generalisation: pd.DataFrame
    variance_shares: pd.DataFrame
    slope_tests: pd.DataFrame
    robustness: pd.DataFrame
    correlation: pd.DataFrame
    planner: pd.DataFrame
    reliability: pd.DataFrame
    disagreement: pd.DataFrame
    focus_sigma: float

    def csv_tables(self) -> dict[str, pd.DataFrame]:
        """The tables written to ``report/tables/<name>.csv``."""
        return {
            "summary": self.summary,
            "pair": self.pair,
            "pairs": self.pairs,
            "generalisation": self.generalisation,
            "variance": self.variance_shares,
            "slope_tests": self.slope_tests,
            "robustness": self.robustness,
            "correlation": self.correlation,
            "planner": self.planner,
            "reliability": self.reliability,
            "disagreement": self.disagreement,
        }


def analysis_rngs(root_seed: int, analysis_seed: int) -> dict[str, np.random.Generator]:
    """One independent Generator per analysis, from the run's ``analysis`` stream."""
    return {
        name: seeding.numpy_rng(seeding.stream(root_seed, seeding.ANALYSIS, analysis_seed, k))
        for k, name in enumerate(ANALYSES)
    }


def nearest_sigma(grid: np.ndarray, wanted: float) -> float:
    grid = np.unique(grid)
    return float(grid[np.argmin(np.abs(grid - wanted))])


def compute_tables(run: RunData, cube: PredictionCube) -> Tables:
    cfg = run.config.analysis
    rngs = analysis_rngs(run.config.run.root_seed, cfg.analysis_seed)
    seed_a, seed_b = run.pair
    summary = bootstrap.summarise_metrics(run.metrics, list(METRICS), rngs["summary"], cfg.n_boot, cfg.confidence)
    pair = divergence.pair_analysis(
        cube, seed_a, seed_b, cfg.tost_margin, cfg.alpha, rngs["pair"], cfg.n_boot, cfg.confidence
    )
    pairs = divergence.all_pairs(cube, cfg.tost_margin, cfg.alpha)
    generalisation = pd.concat(
        [
            divergence.generalisation(pairs, cube.seeds, rngs["generalisation"], cfg.n_boot, cfg.confidence),
            divergence.multi_bootstrap_table(cube, rngs["multi_bootstrap"], cfg.n_boot, cfg.confidence),
            divergence.ranking_consistency(cube, rngs["ranking"], cfg.n_boot, cfg.confidence),
        ],
        ignore_index=True,
    )
    robustness = variance.robustness_auc(run.metrics)
    grid = np.unique(cube.sigmas)
    focus = nearest_sigma(grid, cfg.focus_sigma)
    picks = sorted({float(grid[0]), nearest_sigma(grid, 0.26), focus, float(grid[-1])})
    return Tables(
        summary=summary,
        pair=pair,
        pairs=pairs,
        generalisation=generalisation,
        variance_shares=variance.variance_shares(run.metrics),
        slope_tests=variance.slope_variance_tests(run.metrics),
        robustness=robustness,
        correlation=variance.clean_vs_robust_correlation(robustness, rngs["correlation"], cfg.n_boot, cfg.confidence),
        planner=planning.seed_planner(summary, cfg.planner_delta, cfg.alpha, cfg.confidence),
        reliability=calibration.reliability_bins(cube, picks),
        disagreement=divergence.disagreement_matrix(cube, focus),
        focus_sigma=focus,
    )
