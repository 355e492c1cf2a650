"""Bad input, tried systematically: every malformed config, override or data file ends with a
non-zero exit, one line naming the problem, no traceback and no results folder."""

import gzip
import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import data
from bench.__main__ import main
from bench.config import field_docs
from tests.conftest import MNIST_DIR

KNOWN = {key: default for key, _, default in field_docs()}
INT_KEYS = [k for k, d in KNOWN.items() if isinstance(d, int) and not isinstance(d, bool)]
STR_KEYS = [k for k, d in KNOWN.items() if isinstance(d, str) and k not in ("data.dir", "run.scheduler")]
LIST_KEYS = [k for k, d in KNOWN.items() if isinstance(d, tuple)]
BOUNDED = {  # key -> literal values that are out of range
    "train.epochs": ["0", "-1", "100000"],
    "train.batch_size": ["0", "-5", "1000000"],
    "train.lr": ["0", "-0.1", "nan", "inf", "-inf"],
    "run.n_seeds": ["0", "-3", "10000000"],
    "run.n_jobs": ["0", "-1", "99999"],
    "run.models_per_unit": ["0", "5000"],
    "run.root_seed": ["-1"],
    "noise.n_draws": ["0", "-2", "5000"],
    "data.val_size": ["0", "-10", "60000", "999999"],
    "data.train_limit": ["-1"],
    "data.test_limit": ["-1"],
    "analysis.n_boot": ["0", "10", "99999999"],
    "analysis.alpha": ["0", "1", "1.5", "nan"],
    "analysis.confidence": ["0", "1", "-0.5"],
    "analysis.tost_margin": ["0", "2", "nan"],
    "analysis.planner_delta": ["0", "-1", "nan"],
    "noise.sigmas": ["[]", "[-0.1]", "[nan]", "[inf]", "[0.5, 0.5]", "[1e9]"],
    "model.hidden": ["[]", "[0]", "[-4]", "[1e9]"],
    "run.seeds": ["[-1]", "[1, 1]", "[4294967296]"],
    "analysis.pair": ["[1]", "[1, 1]", "[0, 1, 2]", "[98, 99]"],
}

wrong_type = st.one_of(
    st.tuples(st.sampled_from(INT_KEYS), st.sampled_from(['"three"', "[1, 2]", "true", "{a = 1}", "2.5"])),
    st.tuples(st.sampled_from(STR_KEYS), st.sampled_from(["3", "[1]", "true", '"nope"', '""', "4.5"])),
    st.tuples(st.sampled_from(LIST_KEYS), st.sampled_from(["3", '"a"', '["a", "b"]', "[true]", "{x = 1}"])),
)
out_of_range = st.sampled_from(sorted(BOUNDED)).flatmap(lambda k: st.tuples(st.just(k), st.sampled_from(BOUNDED[k])))
identifier = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
unknown_key = st.one_of(
    st.tuples(st.sampled_from(["data", "model", "train", "run", "noise", "analysis"]), identifier)
    .filter(lambda t: f"{t[0]}.{t[1]}" not in KNOWN)
    .map(lambda t: (f"{t[0]}.{t[1]}", "1")),
    identifier.filter(lambda s: s not in ("data", "model", "train", "run", "noise", "analysis")).map(
        lambda s: (f"{s}.epochs", "1")
    ),
)
unreadable = st.sampled_from(["[0, 0.5", '"open', "{", "]", "nan]"]).map(lambda v: ("noise.sigmas", v))
malformed = st.one_of(
    wrong_type,
    out_of_range,
    unknown_key,
    unreadable,
    st.sampled_from(["epochs=3", "train.epochs", ".=1", "a.b.c=1", "=5"]).map(lambda raw: (raw, None)),
)


def _run(tmp: Path, override: str, capsys) -> tuple[int, str]:
    code = main(["run", "--out", str(tmp / "out"), "--set", f'data.dir="{MNIST_DIR}"', "--set", override])
    return code, capsys.readouterr().err


def _assert_refused(code: int, err: str, tmp: Path) -> None:
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp / "out").exists()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(malformed)
def test_malformed_overrides_are_refused_in_one_line(capsys, case):
    key, value = case
    override = key if value is None else f"{key}={value}"
    with tempfile.TemporaryDirectory() as tmp:
        code, err = _run(Path(tmp), override, capsys)
        _assert_refused(code, err, Path(tmp))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_malformed_config_files_are_refused(capsys, content):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bad.toml"
        path.write_bytes(b"[train]\nepochs = 0\n" + content)
        code = main(["run", "--config", str(path), "--out", str(Path(tmp) / "out")])
        _assert_refused(code, capsys.readouterr().err, Path(tmp))


def test_bad_paths_are_refused(tmp_path, capsys):
    for override in (f'data.dir="{tmp_path / "missing"}"', f'data.dir="{tmp_path}"'):
        code = main(["run", "--out", str(tmp_path / "out"), "--set", override])
        _assert_refused(code, capsys.readouterr().err, tmp_path)
    code = main(["run", "--config", str(tmp_path / "none.toml"), "--out", str(tmp_path / "out")])
    _assert_refused(code, capsys.readouterr().err, tmp_path)


MUTATIONS = ["truncate", "empty", "magic", "garbage_tail", "flip"]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(list(data.FILES)), st.sampled_from(MUTATIONS), st.integers(0, 2**16))
def test_damaged_data_files_are_refused_naming_the_file(capsys, name, mutation, where):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "mnist"
        folder.mkdir()
        for other in data.FILES:
            (folder / f"{other}.gz").symlink_to(MNIST_DIR / f"{other}.gz")
        raw = (MNIST_DIR / f"{name}.gz").read_bytes()
        target = folder / f"{name}.gz"
        target.unlink()
        mutated = {
            "truncate": raw[: where % len(raw)],
            "empty": b"",
            "magic": b"\x00\x00\x09\x01" + raw[4:],
            "garbage_tail": raw + bytes([where % 256]) * 7,
            "flip": raw[: where % len(raw)] + bytes([raw[where % len(raw)] ^ 0xFF]) + raw[where % len(raw) + 1 :],
        }[mutation]
        target.write_bytes(mutated)
        code = main(["run", "--out", str(Path(tmp) / "out"), "--set", f'data.dir="{folder}"'])
        err = capsys.readouterr().err
        _assert_refused(code, err, Path(tmp))
        assert name in err


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.booleans())
def test_idx_decoder_never_crashes(content, gz):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("x.gz" if gz else "x")
        path.write_bytes(gzip.compress(content) if gz else content)
        try:
            array = data.read_idx(path)
        except data.DataError as err:
            assert "\n" not in str(err)
        else:
            assert isinstance(array, np.ndarray)


def test_structurally_wrong_files_with_matching_checksums(tmp_path):
    """Files whose checksums match (a private table) but whose content is wrong."""
    from tests.conftest import md5, write_idx

    cases = {
        "wrong image size": ("train-images-idx3-ubyte", np.zeros((10, 20, 20), np.uint8), "expected (28, 28)"),
        "label out of range": ("train-labels-idx1-ubyte", np.full(10, 12, np.uint8), "outside 0..9"),
        "empty": ("t10k-images-idx3-ubyte", np.zeros((0, 28, 28), np.uint8), "hold no images"),
    }
    for label, (name, array, message) in cases.items():
        folder = tmp_path / label.replace(" ", "_")
        folder.mkdir()
        base = {
            "train-images-idx3-ubyte": np.zeros((10, 28, 28), np.uint8),
            "train-labels-idx1-ubyte": np.zeros(10, np.uint8),
            "t10k-images-idx3-ubyte": np.zeros((4, 28, 28), np.uint8),
            "t10k-labels-idx1-ubyte": np.zeros(4, np.uint8),
        }
        base[name] = array
        if name == "t10k-images-idx3-ubyte":
            base["t10k-labels-idx1-ubyte"] = np.zeros(0, np.uint8)
        expected = {n: (md5(write_idx(folder / n, a)), "0" * 32) for n, a in base.items()}
        try:
            data.load_mnist(str(folder), expected)
        except data.DataError as err:
            assert message in str(err), label
        else:
            raise AssertionError(f"{label} was accepted")
    shutil.rmtree(tmp_path)
