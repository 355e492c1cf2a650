"""Input perturbations, drawn with common random numbers: one noise tensor per draw, shared by
every model and every sigma (the draw is scaled by each sigma)."""

from __future__ import annotations

import numpy as np
import torch

from bench import seeding

PERTURBATIONS = ("gaussian",)


def gaussian_noise(root_seed: int, draw: int, n_examples: int) -> np.ndarray:
    """``eps ~ N(0, I)`` of shape ``(n_examples, 784)`` float32 from the ``noise`` stream of ``draw``."""
    rng = seeding.numpy_rng(seeding.stream(root_seed, seeding.NOISE, draw))
    return rng.standard_normal((n_examples, 784), dtype=np.float32)


def perturb_gaussian(images: torch.Tensor, eps: torch.Tensor, sigma: float, clip: bool) -> torch.Tensor:
    """``clip(images + sigma * eps, 0, 1)`` (clipping optional); images and eps ``(n, 784)``."""
    noisy = images + sigma * eps
    return noisy.clamp_(0.0, 1.0) if clip else noisy
