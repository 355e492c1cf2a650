"""Read and validate a results folder (the contract in DESIGN.md) into tidy frames and arrays.

Failed seeds (``seeds.parquet`` status ``failed``) are excluded from every analysis and listed
in :attr:`RunData.failed`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.parquet as pq

from bench.config import BenchConfig, ConfigError, config_from_json

SCHEMA = {
    "history": ["seed", "epoch", "split", "loss", "accuracy"],
    "metrics": ["seed", "perturbation", "sigma", "draw", "accuracy", "flip_rate", "confidence", "nll", "brier", "ece"],
    "predictions": ["seed", "perturbation", "sigma", "draw", "example", "label", "pred", "confidence", "prob_true"],
}
SUPPORTED_SCHEMA = 1


class AnalysisError(RuntimeError):
    """The results folder cannot be analysed as it is."""


@dataclass(frozen=True)
class PredictionCube:
    """Per-example outcomes as dense arrays (one perturbation).

    ``pred``, ``correct`` and ``confidence`` are ``(n_seeds, n_conditions, n_examples)``;
    condition c is ``(sigmas[c], draws[c])``, condition 0 is the clean test set.
    """

    seeds: np.ndarray  # (S,)
    sigmas: np.ndarray  # (C,)
    draws: np.ndarray  # (C,)
    labels: np.ndarray  # (n,)
    pred: np.ndarray  # (S, C, n) int8
    confidence: np.ndarray  # (S, C, n) float32

    @cached_property
    def correct(self) -> np.ndarray:
        return self.pred == self.labels  # (S, C, n), computed once: every analysis reads it

    @cached_property
    def flipped(self) -> np.ndarray:
        return self.pred != self.pred[:, :1, :]  # (S, C, n)

    def conditions_at(self, sigma: float) -> np.ndarray:
        return np.flatnonzero(np.isclose(self.sigmas, sigma))

    def seed_index(self, seed: int) -> int:
        return int(np.flatnonzero(self.seeds == seed)[0])


@dataclass(frozen=True)
class RunData:
    run_dir: Path
    config: BenchConfig
    history: pd.DataFrame
    metrics: pd.DataFrame
    seeds: list[int]  # seeds that trained successfully, in run order
    failed: pd.DataFrame  # seed, failed_epoch, reason

    @property
    def pair(self) -> tuple[int, int]:
        """Model A and Model B: the configured pair, else the first two successful seeds."""
        pair = tuple(self.config.analysis.pair) or tuple(self.seeds[:2])
        missing = [s for s in pair if s not in self.seeds]
        if missing or len(pair) < 2:
            raise AnalysisError(
                f"Model A/B seeds {missing or pair} did not train successfully; set analysis.pair to two seeds that did"
            )
        return pair


def _read_table(run_dir: Path, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    path = run_dir / f"{name}.parquet"
    if not path.exists():
        raise AnalysisError(f"{run_dir} lacks {name}.parquet; run `python -m bench run` to completion first")
    try:
        frame = pd.read_parquet(path, columns=columns)
    except (pyarrow.ArrowException, OSError, ValueError) as err:
        raise AnalysisError(
            f"{path} is unreadable or lacks columns ({str(err).splitlines()[0]}); "
            "rerun `python -m bench run` on this folder to repair it"
        ) from None
    missing = [c for c in SCHEMA.get(name, []) if c not in frame.columns and (columns is None or c in columns)]
    if missing:
        raise AnalysisError(
            f"{path} lacks columns {missing}; it was made by an older version, so rerun the study into a new folder"
        )
    return frame


def load_run(run_dir: str | Path, overrides: dict | None = None) -> RunData:
    """Validate ``run_dir`` and return its tables; ``overrides`` replaces ``analysis`` settings."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file() or not (run_dir / "manifest.json").is_file():
        raise AnalysisError(
            f"{run_dir} is not a results folder (no config.json/manifest.json); "
            "pass the --out folder of `python -m bench run`"
        )
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text())
        saved = json.loads((run_dir / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise AnalysisError(f"{run_dir} has an unreadable config or manifest ({err})") from None
    if manifest.get("schema_version") != SUPPORTED_SCHEMA:
        raise AnalysisError(
            f"{run_dir} uses results schema {manifest.get('schema_version')!r}, this "
            f"analysis reads schema {SUPPORTED_SCHEMA}; rerun the study with this version"
        )
    if manifest.get("status") != "complete":
        raise AnalysisError(
            f"{run_dir} is incomplete (status {manifest.get('status')!r}); rerun the "
            "same `python -m bench run` command to finish it"
        )
    if overrides:
        saved.setdefault("analysis", {}).update(overrides)
    try:
        config = config_from_json(saved)
    except ConfigError as err:
        raise AnalysisError(str(err)) from None
    status = _read_table(run_dir, "seeds")
    ok = set(status.loc[status["status"] == "ok", "seed"].astype(int))
    seeds = [s for s in config.run.seed_list if s in ok]
    if len(seeds) < 2:
        raise AnalysisError(f"{run_dir} has {len(seeds)} successfully trained seed(s); the analysis needs at least 2")
    history = _read_table(run_dir, "history")
    metrics = _read_table(run_dir, "metrics")
    metrics = metrics[metrics["seed"].isin(seeds)].sort_values(["seed", "sigma", "draw"], ignore_index=True)
    history = history[history["seed"].isin(seeds)].sort_values(["seed", "epoch", "split"], ignore_index=True)
    failed = status.loc[status["status"] == "failed", ["seed", "failed_epoch", "reason"]].reset_index(drop=True)
    return RunData(run_dir, config, history, metrics, seeds, failed)


def load_cube(run: RunData, perturbation: str = "gaussian") -> PredictionCube:
    """Dense per-example arrays for the successful seeds, read unit file by unit file."""
    columns = ["seed", "perturbation", "sigma", "draw", "example", "label", "pred", "confidence"]
    path = run.run_dir / "predictions.parquet"
    if not path.exists():
        raise AnalysisError(f"{run.run_dir} lacks predictions.parquet; rerun the study")
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    seed_pos = {s: i for i, s in enumerate(run.seeds)}
    grid = run.metrics[["sigma", "draw"]].drop_duplicates().sort_values(["sigma", "draw"]).to_numpy()
    sigma_values = np.unique(grid[:, 0])
    n_draw_codes = int(grid[:, 1].max()) + 1
    cond_lookup = np.full(len(sigma_values) * n_draw_codes, -1)
    cond_lookup[np.searchsorted(sigma_values, grid[:, 0]) * n_draw_codes + grid[:, 1].astype(int)] = np.arange(
        len(grid)
    )
    labels = None
    pred = confidence = None
    filled = 0
    for file in files:
        try:
            frame = pq.read_table(file, columns=columns).to_pandas()
        except (pyarrow.ArrowException, OSError) as err:
            raise AnalysisError(
                f"{file} is unreadable ({str(err).splitlines()[0]}); rerun the study "
                "command on this folder to repair it"
            ) from None
        frame = frame[(frame["perturbation"] == perturbation) & frame["seed"].isin(seed_pos)]
        if frame.empty:
            continue
        n = int(frame["example"].max()) + 1
        if pred is None:
            pred = np.full((len(run.seeds), len(grid), n), -1, dtype=np.int8)
            confidence = np.zeros((len(run.seeds), len(grid), n), dtype=np.float32)
            labels = np.zeros(n, dtype=np.int8)
        s = frame["seed"].map(seed_pos).to_numpy()
        c = cond_lookup[
            np.searchsorted(sigma_values, frame["sigma"].to_numpy()) * n_draw_codes + frame["draw"].to_numpy()
        ]
        e = frame["example"].to_numpy()
        pred[s, c, e] = frame["pred"].to_numpy()
        confidence[s, c, e] = frame["confidence"].to_numpy()
        labels[e] = frame["label"].to_numpy()
        filled += len(frame)
    if pred is None or filled != pred.size:
        raise AnalysisError(
            f"{path} does not hold one prediction per seed, condition and example; rerun the study into a new folder"
        )
    return PredictionCube(
        np.asarray(run.seeds), grid[:, 0].astype(float), grid[:, 1].astype(int), labels, pred, confidence
    )
