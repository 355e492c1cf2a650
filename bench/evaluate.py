"""Evaluate an ensemble on the clean test set and under the noise grid, with common random
numbers: for each draw one ``eps`` is drawn and every model sees ``clip(x + sigma * eps)``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from bench import perturb, scoring
from bench.config import NoiseConfig
from bench.model import MlpEnsemble, predict_logits


@dataclass(frozen=True)
class Evaluation:
    """Per-example outcomes of all K models under every condition.

    Conditions are sorted by (sigma, draw); condition 0 is the clean test set (sigma 0, draw 0).
    """

    perturbation: str
    sigmas: np.ndarray  # (C,) float64
    draws: np.ndarray  # (C,) int64
    outcomes: dict[str, np.ndarray]  # name -> (K, C, n)


def _score_into(model: MlpEnsemble, images: torch.Tensor, labels: torch.Tensor, out: dict, column: int) -> None:
    """Fill ``out[name][:, column]``; scored model by model so no model's numbers depend on K (see train)."""
    logits = predict_logits(model, images)  # (K, n, 10)
    for k, model_logits in enumerate(logits):
        for name, values in scoring.outcomes(torch.log_softmax(model_logits, dim=-1), labels).items():
            out[name][k, column] = values


@torch.no_grad()
def evaluate_models(
    model: MlpEnsemble, images: torch.Tensor, labels: torch.Tensor, noise: NoiseConfig, root_seed: int
) -> Evaluation:
    """Evaluate on the clean test set and on every (sigma > 0, draw).

    The clean test set is deterministic, so sigma 0 is evaluated once, as draw 0. Draws are the
    outer loop so that each noise tensor is drawn once and scaled by every sigma.
    """
    noisy_sigmas = [s for s in noise.grid if s > 0]
    conditions = [(0.0, 0)] + [(s, d) for s in noisy_sigmas for d in range(noise.n_draws)]
    column = {condition: c for c, condition in enumerate(conditions)}
    shape = (model.n_models, len(conditions), len(images))
    out = {name: np.empty(shape, dtype=dtype) for name, dtype in scoring.OUTCOME_DTYPES.items()}
    _score_into(model, images, labels, out, 0)
    for draw in range(noise.n_draws if noisy_sigmas else 0):
        eps = torch.from_numpy(perturb.gaussian_noise(root_seed, draw, len(images))).to(images.device)
        for sigma in noisy_sigmas:
            noisy = perturb.perturb_gaussian(images, eps, sigma, noise.clip)
            _score_into(model, noisy, labels, out, column[(sigma, draw)])
    return Evaluation(
        perturbation="gaussian",
        sigmas=np.array([s for s, _ in conditions], dtype=np.float64),
        draws=np.array([d for _, d in conditions], dtype=np.int64),
        outcomes=out,
    )
