"""MNIST from the four original IDX files: find them, verify them, decode them, split them.

Search order: ``data.dir`` (the user's folder), else ``$SEED_DIVERGENCE_DATA``, else the per-user
cache folder, else torchvision's download into that cache. Every file is checked against the
official MD5 before it is decoded; a wrong or truncated file is refused with a message that
says which file and what to do.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import seeding

ENV_VAR = "SEED_DIVERGENCE_DATA"

# name -> (md5 of the gzipped file, md5 of the decompressed file)
FILES = {
    "train-images-idx3-ubyte": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": ("d53e105ee54ea40749a09fcbcd1e9432", "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": ("9fb629c4189551a2d022fa330f9573f3", "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": ("ec29112dd5afa0611ce80d1b7f02629c", "27ae3e4e09519cfbb04c329615203637"),
}


class DataError(RuntimeError):
    """The MNIST files are missing, damaged or malformed."""


@dataclass(frozen=True)
class Mnist:
    """MNIST as uint8 arrays: images ``(n, 784)``, labels ``(n,)``, plus file checksums."""

    train_images: np.ndarray  # (60000, 784) uint8
    train_labels: np.ndarray  # (60000,) uint8
    test_images: np.ndarray  # (10000, 784) uint8
    test_labels: np.ndarray  # (10000,) uint8
    source: str
    checksums: dict


@dataclass(frozen=True)
class Splits:
    """Index arrays into the 60k training set, and the test-set size used."""

    train_index: np.ndarray  # (n_train,) int64
    val_index: np.ndarray  # (n_val,) int64
    n_test: int


def cache_dir() -> Path:
    """Per-user cache folder (``$XDG_CACHE_HOME/seed-divergence/mnist``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seed-divergence" / "mnist"


def _file_in(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name, folder / "MNIST" / "raw" / name):
        if candidate.is_file():
            return candidate
    return None


def _has_all(folder: Path) -> bool:
    return all(_file_in(folder, name) for name in FILES)


def locate(data_dir: str) -> Path:
    """The folder to read MNIST from, following the documented search order."""
    for given, label in ((data_dir, "data.dir"), (os.environ.get(ENV_VAR, ""), f"${ENV_VAR}")):
        if given:
            folder = Path(given).expanduser()
            if not folder.is_dir():
                raise DataError(
                    f"{label} folder {folder} does not exist; point it at the folder holding the four MNIST IDX files"
                )
            missing = [n for n in FILES if not _file_in(folder, n)]
            if missing:
                raise DataError(f"{label} folder {folder} lacks {missing[0]}(.gz); copy the four MNIST IDX files there")
            return folder
    cache = cache_dir()
    if _has_all(cache):
        return cache
    return _download(cache)


def _download(cache: Path) -> Path:
    try:
        from torchvision.datasets import MNIST

        MNIST(str(cache), train=True, download=True)
        MNIST(str(cache), train=False, download=True)
    except Exception as err:  # any network or disk failure means: no data here
        raise DataError(
            f"MNIST is not in the cache {cache} and could not be downloaded ({err}); "
            f"set data.dir or ${ENV_VAR} to a folder with the four IDX files"
        ) from None
    return cache


def _md5(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


def verify(folder: Path, expected: dict = FILES) -> dict:
    """Check every file's MD5; return ``{file name: md5}`` or raise :class:`DataError`."""
    sums = {}
    for name, (md5_gz, md5_raw) in expected.items():
        path = _file_in(folder, name)
        if path is None:
            raise DataError(f"{folder} lacks {name}(.gz); copy the four MNIST IDX files there")
        digest = _md5(path)
        want = md5_gz if path.suffix == ".gz" else md5_raw
        if digest != want:
            raise DataError(
                f"{path} is damaged or truncated (MD5 {digest}, expected {want}); "
                "delete it and copy or download it again"
            )
        sums[path.name] = digest
    return sums


def read_idx(path: Path) -> np.ndarray:
    """Decode one IDX file (gzipped or not) of unsigned bytes into an array."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as err:
        raise DataError(f"{path} cannot be read ({err}); replace it with the original file") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(
            f"{path} is not an IDX file of unsigned bytes (bad magic number); replace it with the original file"
        )
    n_dims = raw[3]
    header = 4 + 4 * n_dims
    if n_dims == 0 or len(raw) < header:
        raise DataError(f"{path} has a truncated IDX header; replace it with the original file")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    size = math.prod(shape)
    if len(raw) - header != size:
        raise DataError(
            f"{path} holds {len(raw) - header} data bytes but its header promises "
            f"{size}; replace it with the original file"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def _images(path: Path) -> np.ndarray:
    images = read_idx(path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{path} holds images of shape {images.shape[1:]}, expected (28, 28)")
    return images.reshape(len(images), 784)


def _labels(path: Path, n_images: int) -> np.ndarray:
    labels = read_idx(path)
    if labels.ndim != 1 or len(labels) != n_images:
        raise DataError(f"{path} holds {labels.shape} labels for {n_images} images")
    if len(labels) and labels.max() > 9:
        raise DataError(f"{path} has a label {int(labels.max())} outside 0..9")
    return labels


def load_mnist(data_dir: str = "", expected: dict = FILES) -> Mnist:
    """Locate, verify and decode MNIST. ``expected`` is the checksum table (tests pass their own)."""
    folder = locate(data_dir)
    checksums = verify(folder, expected)
    parts = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = _images(_file_in(folder, f"{prefix}-images-idx3-ubyte"))
        labels = _labels(_file_in(folder, f"{prefix}-labels-idx1-ubyte"), len(images))
        if len(images) == 0:
            raise DataError(f"the {split} files in {folder} hold no images")
        parts[split] = (images, labels)
    return Mnist(*parts["train"], *parts["test"], source=str(folder.resolve()), checksums=checksums)


def make_splits(
    n_train_pool: int,
    val_size: int,
    n_test_pool: int,
    train_limit: int,
    test_limit: int,
    seed_seq: np.random.SeedSequence,
) -> Splits:
    """Carve the validation split from the (limited) training pool with the ``split`` stream."""
    n_pool = min(train_limit or n_train_pool, n_train_pool)
    if val_size >= n_pool:
        raise DataError(f"data.val_size ({val_size}) must be smaller than the {n_pool} training examples available")
    order = seeding.numpy_rng(seed_seq).permutation(n_pool)
    return Splits(
        train_index=np.sort(order[val_size:]),
        val_index=np.sort(order[:val_size]),
        n_test=min(test_limit or n_test_pool, n_test_pool),
    )
