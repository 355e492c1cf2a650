"""Shared fixtures: the real MNIST folder, small synthetic IDX files, tiny-budget configs."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = Path(os.environ.get("SEED_DIVERGENCE_DATA", REPO.parent / "shared" / "data" / "mnist"))

TINY = [
    f'data.dir="{MNIST_DIR}"',
    "data.train_limit=1200",
    "data.val_size=200",
    "data.test_limit=300",
    "model.hidden=[16]",
    "train.epochs=2",
    "train.batch_size=64",
    "noise.sigmas=[0, 0.3, 0.6]",
    "noise.n_draws=2",
    "run.n_jobs=1",
    'run.device="cpu"',
]


def run_args(out: Path, overrides: list[str], quiet: bool = True) -> list[str]:
    """Arguments of ``python -m bench`` for a run into ``out`` with ``--set`` overrides."""
    sets = [arg for override in overrides for arg in ("--set", override)]
    return ["run", *(["--quiet"] if quiet else []), "--out", str(out), *sets]


TABLE_KEYS = {
    "history": ["seed", "epoch", "split"],
    "metrics": ["seed", "sigma", "draw"],
    "predictions": ["seed", "sigma", "draw", "example"],
    "seeds": ["seed"],
}


def read_tables(run_dir: Path) -> dict:
    """Every results table of ``run_dir``, sorted by its key columns."""
    import pandas as pd

    return {
        t: pd.read_parquet(run_dir / f"{t}.parquet").sort_values(k, ignore_index=True) for t, k in TABLE_KEYS.items()
    }


@pytest.fixture
def mnist_dir() -> Path:
    if not MNIST_DIR.is_dir():
        pytest.skip(f"real MNIST not found at {MNIST_DIR}")
    return MNIST_DIR


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    """Write ``array`` (uint8) as an IDX file of unsigned bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw, mtime=0))
    else:
        path.write_bytes(raw)
    return path


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def synthetic_mnist(tmp_path) -> tuple[Path, dict]:
    """A folder of four small, valid IDX files and the checksum table that matches them."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "idx"
    folder.mkdir()
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (120, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 120, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 30, dtype=np.uint8),
    }
    expected = {}
    for name, array in arrays.items():
        path = write_idx(folder / name, array)
        expected[name] = (md5(path), "0" * 32)
    return folder, expected
