"""Named random streams, spawned from one root seed with ``numpy.random.SeedSequence``.

Every stream is addressed by a fixed spawn key, so a model's streams depend only on the root
seed and that model's own seed: never on how many models there are or how they are batched.

Spawn keys: ``(STREAM, ...)`` where STREAM is one of the integer codes below.
Per-model streams carry the model seed; shared streams do not.
"""

from __future__ import annotations

import numpy as np
import torch

SPLIT, NOISE, ANALYSIS, INIT, ORDER = 1, 2, 3, 4, 5

# The seed used for a per-model stream that the seed mode keeps identical for every model.
_SHARED = 2**32 - 1


def stream(root_seed: int, code: int, *path: int) -> np.random.SeedSequence:
    """The SeedSequence of stream ``code`` under ``root_seed``, sub-addressed by ``path``."""
    return np.random.SeedSequence(root_seed, spawn_key=(code, *path))


def model_streams(root_seed: int, seed: int, seed_mode: str) -> dict[str, np.random.SeedSequence]:
    """The ``init`` and ``order`` streams of one model under ``seed_mode``.

    ``init``: weights differ by seed, data order shared; ``order``: the reverse; ``both``: both differ.
    """
    init_key = seed if seed_mode in ("init", "both") else _SHARED
    order_key = seed if seed_mode in ("order", "both") else _SHARED
    return {"init": stream(root_seed, INIT, init_key), "order": stream(root_seed, ORDER, order_key)}


def numpy_rng(seed_seq: np.random.SeedSequence) -> np.random.Generator:
    """A PCG64 Generator on ``seed_seq``."""
    return np.random.default_rng(seed_seq)


def torch_generator(seed_seq: np.random.SeedSequence) -> torch.Generator:
    """A CPU torch.Generator seeded from ``seed_seq`` (64 bits of its state)."""
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(seed_seq.generate_state(1, dtype=np.uint64)[0]))
    return gen
