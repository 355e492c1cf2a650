"""Reliability diagrams under noise: accuracy against confidence in equal-width bins."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.load import PredictionCube

N_BINS = 15


def reliability_bins(cube: PredictionCube, sigmas: list[float], n_bins: int = N_BINS) -> pd.DataFrame:
    """Pooled over seeds and draws, per sigma and confidence bin ``((m-1)/M, m/M]``.

    Returns ``sigma, bin, confidence`` (mean max-softmax in the bin), ``accuracy``, ``count``;
    empty bins are left out. Guo et al. (2017), On Calibration of Modern Neural Networks.
    """
    rows = []
    for sigma in sigmas:
        conds = cube.conditions_at(sigma)
        conf = cube.confidence[:, conds].astype(np.float64).ravel()
        correct = cube.correct[:, conds].ravel()
        bins = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
        count = np.bincount(bins, minlength=n_bins)
        conf_sum = np.bincount(bins, weights=conf, minlength=n_bins)
        acc_sum = np.bincount(bins, weights=correct, minlength=n_bins)
        for b in np.flatnonzero(count):
            rows.append(
                {
                    "sigma": float(sigma),
                    "bin": int(b),
                    "confidence": conf_sum[b] / count[b],
                    "accuracy": acc_sum[b] / count[b],
                    "count": int(count[b]),
                }
            )
    return pd.DataFrame(rows)
