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
class Condition:
    """Per-example outcomes of all K models under one (perturbation, sigma, draw)."""

    perturbation: str
    sigma: float
    draw: int
    outcomes: dict[str, np.ndarray]  # name -> (K, n)


def _outcomes(model: MlpEnsemble, images: torch.Tensor, labels: torch.Tensor) -> dict[str, np.ndarray]:
    """Outcomes ``(K, n)``; scored model by model so no model's numbers depend on K (see train)."""
    logits = predict_logits(model, images)  # (K, n, 10)
    per_model = [scoring.outcomes(torch.log_softmax(lg, dim=-1), labels) for lg in logits]
    return {name: np.stack([out[name] for out in per_model]) for name in per_model[0]}


@torch.no_grad()
def evaluate_models(
    model: MlpEnsemble, images: torch.Tensor, labels: torch.Tensor, noise: NoiseConfig, root_seed: int
) -> list[Condition]:
    """The clean condition (sigma 0, draw 0) first, then every (sigma > 0, draw).

    The clean test set is deterministic, so sigma 0 is evaluated once, as draw 0.
    """
    conditions = [Condition("gaussian", 0.0, 0, _outcomes(model, images, labels))]
    noisy_sigmas = [s for s in noise.grid if s > 0]
    for draw in range(noise.n_draws if noisy_sigmas else 0):
        eps = torch.from_numpy(perturb.gaussian_noise(root_seed, draw, len(images))).to(images.device)
        for sigma in noisy_sigmas:
            noisy = perturb.perturb_gaussian(images, eps, sigma, noise.clip)
            conditions.append(Condition("gaussian", sigma, draw, _outcomes(model, noisy, labels)))
    return conditions
