import gzip

import numpy as np
import pytest

from bench import data, seeding
from tests.conftest import md5, write_idx


def test_loads_synthetic_files(synthetic_mnist):
    folder, expected = synthetic_mnist
    mnist = data.load_mnist(str(folder), expected)
    assert mnist.train_images.shape == (120, 784) and mnist.train_images.dtype == np.uint8
    assert mnist.test_labels.shape == (30,)


def test_reads_uncompressed_idx(tmp_path):
    array = np.arange(2 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(2, 28, 28)
    path = write_idx(tmp_path / "x-idx3-ubyte", array, gz=False)
    assert np.array_equal(data.read_idx(path), array)


def test_wrong_checksum_names_the_file(synthetic_mnist):
    folder, expected = synthetic_mnist
    path = folder / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(data.DataError, match="t10k-labels-idx1-ubyte.gz is damaged or truncated"):
        data.load_mnist(str(folder), expected)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda raw: b"\x00\x00\x09\x03" + raw[4:], "magic number"),
        (lambda raw: raw[:-10], "header promises"),
        (lambda raw: raw[:6], "truncated IDX header"),
        (lambda raw: b"", "magic number"),
    ],
)
def test_malformed_idx_is_refused(tmp_path, mutate, message):
    raw = gzip.decompress(write_idx(tmp_path / "a", np.zeros((2, 28, 28), np.uint8)).read_bytes())
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(mutate(raw))
    with pytest.raises(data.DataError, match=message):
        data.read_idx(path)


def _replace(folder, expected, name, array):
    path = write_idx(folder / name, array)
    expected[name] = (md5(path), "0" * 32)


def test_wrong_image_size_and_label_range(synthetic_mnist):
    folder, expected = synthetic_mnist
    _replace(folder, expected, "train-images-idx3-ubyte", np.zeros((120, 20, 20), np.uint8))
    with pytest.raises(data.DataError, match="expected \\(28, 28\\)"):
        data.load_mnist(str(folder), expected)
    folder2, expected2 = folder, dict(expected)
    _replace(folder2, expected2, "train-images-idx3-ubyte", np.zeros((120, 28, 28), np.uint8))
    _replace(folder2, expected2, "train-labels-idx1-ubyte", np.full(120, 11, np.uint8))
    with pytest.raises(data.DataError, match="outside 0..9"):
        data.load_mnist(str(folder2), expected2)


def test_search_order(tmp_path, monkeypatch, synthetic_mnist):
    folder, _ = synthetic_mnist
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    assert data.locate(str(folder)) == folder
    monkeypatch.setenv(data.ENV_VAR, str(folder))
    assert data.locate("") == folder
    with pytest.raises(data.DataError, match="does not exist"):
        data.locate(str(tmp_path / "missing"))
    monkeypatch.delenv(data.ENV_VAR)
    cache = data.cache_dir()
    cache.mkdir(parents=True)
    for path in folder.iterdir():
        (cache / path.name).write_bytes(path.read_bytes())
    assert data.locate("") == cache


def test_download_failure_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(
        data, "_download", lambda cache: (_ for _ in ()).throw(data.DataError("could not be downloaded"))
    )
    with pytest.raises(data.DataError, match="downloaded"):
        data.locate("")


def test_real_mnist_checksums_and_pixels(mnist_dir):
    mnist = data.load_mnist(str(mnist_dir))
    assert mnist.train_images.shape == (60000, 784) and mnist.test_images.shape == (10000, 784)
    assert np.bincount(mnist.train_labels).tolist()[:3] == [5923, 6742, 5958]
    assert abs(mnist.train_images.mean() / 255 - 0.1307) < 1e-3


def test_split_is_fixed_by_the_split_stream():
    a = data.make_splits(60000, 5000, 10000, 0, 0, seeding.stream(1, seeding.SPLIT))
    b = data.make_splits(60000, 5000, 10000, 0, 0, seeding.stream(1, seeding.SPLIT))
    c = data.make_splits(60000, 5000, 10000, 0, 0, seeding.stream(2, seeding.SPLIT))
    assert np.array_equal(a.val_index, b.val_index) and not np.array_equal(a.val_index, c.val_index)
    assert len(np.intersect1d(a.train_index, a.val_index)) == 0
    assert len(a.train_index) + len(a.val_index) == 60000
