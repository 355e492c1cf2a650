"""Synthetic prediction cubes and metrics frames with a known truth."""

import numpy as np
import pandas as pd

from analysis.load import PredictionCube


def make_cube(n_seeds=5, sigmas=(0.0, 0.3, 0.6), n_draws=2, n=400, flip=0.0, seed=0) -> PredictionCube:
    """Seeds share a clean labelling up to ``flip`` per-seed noise; noise conditions degrade it."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.int8)
    conditions = [(0.0, 0)] + [(s, d) for s in sigmas if s > 0 for d in range(n_draws)]
    pred = np.empty((n_seeds, len(conditions), n), dtype=np.int8)
    for c, (sigma, _) in enumerate(conditions):
        wrong = rng.uniform(size=(n_seeds, n)) < 0.02 + sigma + flip * rng.uniform(size=(n_seeds, 1))
        pred[:, c] = np.where(wrong, (labels + 1 + rng.integers(0, 9, (n_seeds, n))) % 10, labels)
    confidence = rng.uniform(0.5, 1.0, size=pred.shape).astype(np.float32)
    return PredictionCube(
        np.arange(n_seeds),
        np.array([c[0] for c in conditions]),
        np.array([c[1] for c in conditions]),
        labels,
        pred,
        confidence,
    )


def metrics_frame(cube: PredictionCube) -> pd.DataFrame:
    correct = cube.correct.mean(-1)
    flipped = cube.flipped.mean(-1)
    conf = cube.confidence.mean(-1)
    rows = []
    for s, seed in enumerate(cube.seeds):
        for c, (sigma, draw) in enumerate(zip(cube.sigmas, cube.draws, strict=True)):
            rows.append(
                {
                    "seed": seed,
                    "perturbation": "gaussian",
                    "sigma": sigma,
                    "draw": draw,
                    "accuracy": correct[s, c],
                    "flip_rate": flipped[s, c],
                    "confidence": conf[s, c],
                    "nll": 1 - correct[s, c],
                    "brier": 0.5 * (1 - correct[s, c]),
                    "ece": abs(conf[s, c] - correct[s, c]),
                }
            )
    return pd.DataFrame(rows)
