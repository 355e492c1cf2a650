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
from bench.evaluate import Evaluation, evaluate_models
from bench.model import MlpEnsemble
from bench.scoring import score
from bench.train import Dataset, to_unit_range, train_models


@dataclass(frozen=True)
class UnitTables:
    """The rows one unit contributes to each results table."""

    history: pd.DataFrame
    metrics: pd.DataFrame
    predictions: PredictionBlock
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
    return to_unit_range(torch.tensor(images, device=device))  # copies: inputs may be read-only memmaps


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


@dataclass(frozen=True)
class PredictionBlock:
    """Per-example outcomes of a unit's successful models, as compact arrays in table order.

    Kept as arrays (17 bytes per row) rather than a DataFrame (about 50) so that a unit costs
    little memory in its worker, in transit and in the writer, which turns it into rows one
    model at a time (:meth:`frames`).
    """

    perturbation: str
    seeds: np.ndarray  # (K',) int64
    sigmas: np.ndarray  # (C,) float64, conditions sorted by (sigma, draw)
    draws: np.ndarray  # (C,) int64
    labels: np.ndarray  # (n,) int8
    outcomes: dict[str, np.ndarray]  # name -> (K', C, n)

    def rows(self, models: slice = slice(None)) -> pd.DataFrame:
        """The ``predictions.parquet`` rows of ``models``, ordered by (seed, sigma, draw, example)."""
        seeds = self.seeds[models]
        n_models, (n_conditions, n) = len(seeds), (len(self.sigmas), len(self.labels))
        return pd.DataFrame(
            {
                "seed": np.repeat(seeds, n_conditions * n),
                "perturbation": self.perturbation,
                "sigma": np.tile(np.repeat(self.sigmas, n), n_models),
                "draw": np.tile(np.repeat(self.draws, n), n_models),
                "example": np.tile(np.arange(n, dtype=np.int32), n_models * n_conditions),
                "label": np.tile(self.labels, n_models * n_conditions),
                **{name: values[models].ravel() for name, values in self.outcomes.items()},
            }
        )

    def frames(self):
        """One frame per model (a single empty frame when every model failed)."""
        if not len(self.seeds):
            yield self.rows(slice(0, 0))
        for k in range(len(self.seeds)):
            yield self.rows(slice(k, k + 1))


def _predictions_and_metrics(
    seeds: list[int], labels: np.ndarray, evaluation: Evaluation, keep: np.ndarray
) -> tuple[PredictionBlock, pd.DataFrame]:
    """Predictions and metrics of the models ``keep`` (a boolean ``(K,)`` mask)."""
    kept_seeds = np.asarray(seeds, dtype=np.int64)[keep]
    everyone = bool(keep.all())  # then no copy of the outcome arrays is needed
    outcomes = {name: values if everyone else values[keep] for name, values in evaluation.outcomes.items()}
    block = PredictionBlock(
        perturbation=evaluation.perturbation,
        seeds=kept_seeds,
        sigmas=evaluation.sigmas,
        draws=evaluation.draws,
        labels=labels.astype(np.int8),
        outcomes=outcomes,
    )
    clean_pred = outcomes["pred"][:, :1, :]  # (K', 1, n): condition 0 is sigma 0
    metrics = score(
        labels, outcomes["pred"], clean_pred, outcomes["confidence"], outcomes["prob_true"], outcomes["brier"]
    )  # each (K', C)
    n_conditions = len(block.sigmas)
    frame = pd.DataFrame(
        {
            "seed": np.repeat(kept_seeds, n_conditions),
            "perturbation": block.perturbation,
            "sigma": np.tile(block.sigmas, len(kept_seeds)),
            "draw": np.tile(block.draws, len(kept_seeds)),
            **{name: values.ravel() for name, values in metrics.items()},
        }
    )
    return block, frame


def make_dataset(mnist: Mnist, splits: Splits, device: torch.device) -> Dataset:
    """The training and validation splits as tensors on ``device`` (training pixels stay uint8)."""
    return Dataset(
        train_x=torch.tensor(mnist.train_images[splits.train_index], device=device),
        train_y=torch.tensor(mnist.train_labels[splits.train_index], dtype=torch.int64, device=device),
        val_x=_to_float(mnist.train_images[splits.val_index], device),
        val_y=torch.tensor(mnist.train_labels[splits.val_index], dtype=torch.int64, device=device),
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
    data = make_dataset(mnist, splits, device)
    started = time.perf_counter()
    outcome = train_models(model, data, config.train, order, on_epoch)
    trained = time.perf_counter()
    test_labels = mnist.test_labels[: splits.n_test]
    evaluation = evaluate_models(
        model,
        _to_float(mnist.test_images[: splits.n_test], device),
        torch.from_numpy(test_labels.astype(np.int64)).to(device),
        config.noise,
        root,
    )
    keep = np.array([k not in outcome.failures for k in range(len(seeds))])
    predictions, metrics = _predictions_and_metrics(seeds, test_labels, evaluation, keep)
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
