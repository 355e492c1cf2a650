"""Per-example outcomes and the metrics computed from them (pure numpy, no files).

The metrics of ``metrics.parquet`` are computed by :func:`score` from exactly the per-example
columns written to ``predictions.parquet``, so they can always be recomputed from it.
"""

from __future__ import annotations

import numpy as np
import torch

N_ECE_BINS = 15
METRICS = ("accuracy", "flip_rate", "confidence", "nll", "brier", "ece")
OUTCOME_DTYPES = {"pred": np.int8, "confidence": np.float32, "prob_true": np.float64, "brier": np.float32}


def outcomes(log_probs: torch.Tensor, labels: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-example outcomes of one model from log-probabilities ``(n, 10)`` and labels ``(n,)``.

    Returns ``pred`` (int8), ``confidence`` (max softmax, float32), ``prob_true`` (softmax of the
    true class, float64 so that its log is exact), ``brier`` (sum over classes of
    ``(p_c - y_c)^2``, float32), each ``(n,)``.
    """
    probs = log_probs.exp()
    confidence, pred = probs.max(-1)
    log_true = log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    onehot = torch.nn.functional.one_hot(labels, probs.shape[-1]).to(probs.dtype)
    brier = ((probs - onehot) ** 2).sum(-1)
    return {
        "pred": pred.to(torch.int8).cpu().numpy(),
        "confidence": confidence.float().cpu().numpy(),
        "prob_true": log_true.double().exp().cpu().numpy(),
        "brier": brier.float().cpu().numpy(),
    }


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = N_ECE_BINS) -> np.ndarray:
    """ECE over equal-width bins ``((m-1)/M, m/M]`` of the max-softmax confidence.

    ``confidence`` and ``correct`` are ``(..., n)``; returns ``(...)``.
    Guo et al. (2017), "On Calibration of Modern Neural Networks", eq. 3.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    bins = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    lead = conf.shape[:-1]
    flat_bins = bins.reshape(-1, conf.shape[-1])
    gap = np.zeros(flat_bins.shape[0])
    for row, (b, c, y) in enumerate(
        zip(
            flat_bins,
            conf.reshape(flat_bins.shape),
            np.asarray(correct, dtype=np.float64).reshape(flat_bins.shape),
            strict=True,
        )
    ):
        count = np.bincount(b, minlength=n_bins)
        diff = np.bincount(b, weights=y - c, minlength=n_bins)
        gap[row] = np.abs(diff).sum() / count.sum()
    return gap.reshape(lead)


def score(
    labels: np.ndarray,
    pred: np.ndarray,
    clean_pred: np.ndarray,
    confidence: np.ndarray,
    prob_true: np.ndarray,
    brier: np.ndarray,
) -> dict[str, np.ndarray]:
    """The six metrics per leading index; every array is ``(..., n)``, labels ``(n,)``."""
    correct = pred == labels
    with np.errstate(divide="ignore"):
        nll = -np.log(prob_true.astype(np.float64)).mean(-1)
    return {
        "accuracy": correct.mean(-1),
        "flip_rate": (pred != clean_pred).mean(-1),
        "confidence": confidence.astype(np.float64).mean(-1),
        "nll": nll,
        "brier": brier.astype(np.float64).mean(-1),
        "ece": expected_calibration_error(confidence, correct),
    }
