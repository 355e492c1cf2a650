"""Helpers shared by the benchmark scripts: the machine's matmul peak and a timer."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
DATA = os.environ.get("SEED_DIVERGENCE_DATA", str(REPO.parent / "shared" / "data" / "mnist"))


def matmul_peak(size: int = 4096, n_repeats: int = 3) -> float:
    """fp32 FLOP/s of a large square ``torch.mm`` on every core (median of ``n_repeats``)."""
    torch.set_num_threads(os.cpu_count() or 1)
    a, b = torch.rand(size, size), torch.rand(size, size)
    torch.mm(a, b)
    times = []
    for _ in range(n_repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """``(wall seconds, return value)`` of ``fn()``."""
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def median(values: list[float]) -> float:
    return statistics.median(values)
