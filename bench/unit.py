"""One unit of work: train a group of seeds together, evaluate them, return their table rows.

A unit touches no files: it returns pandas DataFrames that :mod:`bench.store` writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from bench import seeding
from bench.config import BenchConfig
from bench.data import Mnist, Splits
from bench.evaluate import Condition, evaluate_models
from bench.model import MlpEnsemble
from bench.scoring import score
from bench.train import Dataset, train_models


@dataclass(frozen=True)
class UnitTables:
    """The rows one unit contributes to each results table."""

    history: pd.DataFrame
    metrics: pd.DataFrame
    predictions: pd.DataFrame
    seeds: pd.DataFrame  # seed, status, failed_epoch, reason
    timings: dict[str, float]  # train_seconds, eval_seconds (wall clock inside the worker)


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA where present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("run.device = cuda but no CUDA device is visible; use auto or cpu")
    return torch.device(name)


def _to_float(images: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.tensor(images, device=device, dtype=torch.float32).div_(
        255.0
    )  # copies (inputs may be read-only memmaps)


def _history_frame(seeds: list[int], loss: np.ndarray, accuracy: np.ndarray) -> pd.DataFrame:
    n_epochs, _, n_models = loss.shape
    epoch, split, model = np.meshgrid(np.arange(1, n_epochs + 1), [0, 1], np.arange(n_models), indexing="ij")
    frame = pd.DataFrame(
        {
            "seed": np.asarray(seeds, dtype=np.int64)[model.ravel()],
            "epoch": epoch.ravel().astype(np.int64),
            "split": np.array(["train", "val"])[split.ravel()],
            "loss": loss.ravel(),
            "accuracy": accuracy.ravel(),
        }
    )
    frame = frame[frame["loss"].notna() | frame["split"].eq("train") & frame["accuracy"].notna()]
    return frame.sort_values(["seed", "epoch", "split"], ignore_index=True)


def _prediction_frames(
    seeds: list[int], labels: np.ndarray, conditions: list[Condition], keep: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predictions and metrics of the models ``keep`` (a boolean ``(K,)`` mask)."""
    kept_seeds = np.asarray(seeds, dtype=np.int64)[keep]
    n_kept, n = len(kept_seeds), len(labels)
    clean_pred = conditions[0].outcomes["pred"][keep]
    pred_parts, metric_parts = [], []
    for cond in conditions:
        out = {name: values[keep] for name, values in cond.outcomes.items()}  # (K', n)
        pred_parts.append(
            pd.DataFrame(
                {
                    "seed": np.repeat(kept_seeds, n),
                    "perturbation": cond.perturbation,
                    "sigma": cond.sigma,
                    "draw": np.int64(cond.draw),
                    "example": np.tile(np.arange(n, dtype=np.int32), n_kept),
                    "label": np.tile(labels.astype(np.int8), n_kept),
                    **{name: values.ravel() for name, values in out.items()},
                }
            )
        )
        metrics = score(labels, out["pred"], clean_pred, out["confidence"], out["prob_true"], out["brier"])
        metric_parts.append(
            pd.DataFrame(
                {
                    "seed": kept_seeds,
                    "perturbation": cond.perturbation,
                    "sigma": cond.sigma,
                    "draw": np.int64(cond.draw),
                    **metrics,
                }
            )
        )
    columns = ["seed", "perturbation", "sigma", "draw", "example", "label", "pred", "confidence", "prob_true", "brier"]
    predictions = pd.concat(pred_parts, ignore_index=True)[columns] if n_kept else pd.DataFrame(columns=columns)
    metrics = pd.concat(metric_parts, ignore_index=True)
    order = ["seed", "perturbation", "sigma", "draw"]
    return (
        predictions.sort_values(order + ["example"], ignore_index=True, kind="stable"),
        metrics.sort_values(order, ignore_index=True, kind="stable"),
    )


def run_unit(
    config: BenchConfig, seeds: list[int], mnist: Mnist, splits: Splits, on_epoch: Callable[[int], None] | None = None
) -> UnitTables:
    """Train and evaluate ``seeds`` as one ensemble; the result of each seed depends only on it."""
    device = resolve_device(config.run.device)
    root = config.run.root_seed
    streams = [seeding.model_streams(root, s, config.run.seed_mode) for s in seeds]
    model = MlpEnsemble.from_generators(
        [seeding.torch_generator(st["init"]) for st in streams], config.model.hidden, config.model.activation
    ).to(device)
    if config.run.seed_mode == "init":
        order = seeding.numpy_rng(streams[0]["order"])  # identical for every model: shared batches
    else:
        order = [seeding.numpy_rng(st["order"]) for st in streams]
    data = Dataset(
        train_x=_to_float(mnist.train_images[splits.train_index], device),
        train_y=torch.from_numpy(mnist.train_labels[splits.train_index].astype(np.int64)).to(device),
        val_x=_to_float(mnist.train_images[splits.val_index], device),
        val_y=torch.from_numpy(mnist.train_labels[splits.val_index].astype(np.int64)).to(device),
    )
    started = time.perf_counter()
    outcome = train_models(model, data, config.train, order, on_epoch)
    trained = time.perf_counter()
    test_labels = mnist.test_labels[: splits.n_test]
    conditions = evaluate_models(
        model,
        _to_float(mnist.test_images[: splits.n_test], device),
        torch.from_numpy(test_labels.astype(np.int64)).to(device),
        config.noise,
        root,
    )
    keep = np.array([k not in outcome.failures for k in range(len(seeds))])
    predictions, metrics = _prediction_frames(seeds, test_labels, conditions, keep)
    status = pd.DataFrame(
        {
            "seed": np.asarray(seeds, dtype=np.int64),
            "status": ["failed" if k in outcome.failures else "ok" for k in range(len(seeds))],
            "failed_epoch": pd.array(
                [outcome.failures.get(k, (None, ""))[0] for k in range(len(seeds))], dtype="Int64"
            ),
            "reason": [outcome.failures.get(k, (None, ""))[1] for k in range(len(seeds))],
        }
    )
    timings = {"train_seconds": trained - started, "eval_seconds": time.perf_counter() - trained}
    return UnitTables(_history_frame(seeds, outcome.loss, outcome.accuracy), metrics, predictions, status, timings)
