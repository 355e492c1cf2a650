"""The runner: same tables whatever the parallelism, resumes, refuses mixing configs."""

import json

import pandas as pd
import pytest

from bench import store
from bench.__main__ import main
from bench.config import load_config
from bench.runner import RunError, run_study
from bench.scoring import score
from tests.conftest import TINY, read_tables, run_args


def _assert_same(a, b):
    for table in a:
        pd.testing.assert_frame_equal(a[table], b[table], check_exact=True, obj=table)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    from tests.conftest import MNIST_DIR

    if not MNIST_DIR.is_dir():
        pytest.skip("real MNIST not available")
    out = tmp_path_factory.mktemp("ref") / "run"
    run_study(load_config(None, TINY + ["run.n_seeds=4", "run.models_per_unit=4"]), out, progress=False)
    return out


def test_parallel_and_chunking_do_not_change_results(reference_run, tmp_path):
    out = tmp_path / "par"
    run_study(load_config(None, TINY + ["run.n_seeds=4", "run.models_per_unit=1", "run.n_jobs=2"]), out, progress=False)
    _assert_same(read_tables(reference_run), read_tables(out))


def test_threading_backend_matches(reference_run, tmp_path):
    out = tmp_path / "thr"
    run_study(
        load_config(None, TINY + ["run.n_seeds=4", "run.models_per_unit=2", "run.n_jobs=2", 'run.backend="threading"']),
        out,
        progress=False,
    )
    _assert_same(read_tables(reference_run), read_tables(out))


def test_contract_columns_and_recomputable_metrics(reference_run):
    tables = read_tables(reference_run)
    assert list(tables["history"].columns) == ["seed", "epoch", "split", "loss", "accuracy"]
    assert list(tables["metrics"].columns) == [
        "seed",
        "perturbation",
        "sigma",
        "draw",
        "accuracy",
        "flip_rate",
        "confidence",
        "nll",
        "brier",
        "ece",
    ]
    preds = tables["predictions"]
    assert {"seed", "perturbation", "sigma", "draw", "example", "label", "pred", "confidence", "prob_true"} <= set(
        preds.columns
    )
    config = json.loads((reference_run / "config.json").read_text())
    assert "config_hash" in config
    clean = preds[preds["sigma"] == 0].set_index(["seed", "example"])["pred"]
    for (seed, sigma, draw), group in preds.groupby(["seed", "sigma", "draw"]):  # noqa: B007 (used in query)
        group = group.sort_values("example")
        got = score(
            group["label"].to_numpy(),
            group["pred"].to_numpy(),
            clean.loc[seed].loc[group["example"]].to_numpy(),
            group["confidence"].to_numpy(),
            group["prob_true"].to_numpy(),
            group["brier"].to_numpy(),
        )
        row = tables["metrics"].query("seed == @seed and sigma == @sigma and draw == @draw").iloc[0]
        for name, value in got.items():
            assert row[name] == pytest.approx(float(value), abs=1e-12), name
        # independent definitions, for two of the metrics
        assert row["accuracy"] == pytest.approx((group["pred"] == group["label"]).mean())
        assert row["nll"] == pytest.approx(-(group["prob_true"].map(float)).apply(__import__("math").log).mean())


def test_resume_redoes_only_missing_units_and_refuses_other_configs(reference_run, tmp_path):
    out = tmp_path / "resume"
    overrides = TINY + ["run.n_seeds=4", "run.models_per_unit=2"]
    run_study(load_config(None, overrides), out, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    kept = manifest["units"]["0"]
    del manifest["units"]["1"]  # as if the run died before unit 1 was recorded
    store.write_json(out / "manifest.json", manifest)
    before = (out / next(iter(kept["files"]))).stat().st_mtime_ns
    summary = run_study(load_config(None, overrides), out, progress=False)
    assert (summary.n_done_before, summary.n_run) == (1, 1)
    assert (out / next(iter(kept["files"]))).stat().st_mtime_ns == before
    _assert_same(read_tables(reference_run), read_tables(out))
    with pytest.raises(RunError, match="train.epochs"):
        run_study(load_config(None, overrides + ["train.epochs=3"]), out, progress=False)


def test_damaged_unit_is_redone(reference_run, tmp_path, capsys):
    out = tmp_path / "damaged"
    overrides = TINY + ["run.n_seeds=4", "run.models_per_unit=2"]
    run_study(load_config(None, overrides), out, progress=False)
    victim = out / "predictions.parquet" / "unit-00001.parquet"
    victim.write_bytes(victim.read_bytes()[:100])
    summary = run_study(load_config(None, overrides), out, progress=False)
    assert summary.n_run == 1 and "damaged" in capsys.readouterr().err
    _assert_same(read_tables(reference_run), read_tables(out))


def test_lock_refuses_a_live_holder_and_takes_over_a_dead_one(tmp_path):
    lock = store.RunLock(tmp_path)
    lock.acquire()
    with pytest.raises(store.StoreError, match="in use by process"):
        store.RunLock(tmp_path).acquire()
    lock.release()
    (tmp_path / store.LOCK_NAME).write_text(
        json.dumps({"pid": 2**22 + 12345, "host": __import__("socket").gethostname()})
    )
    store.RunLock(tmp_path).acquire()  # stale lock of a dead process is taken over


def test_cli_end_to_end_on_real_mnist(mnist_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(run_args(out, [*TINY, "run.n_seeds=2"]))
    assert code == 0
    assert "1 units complete" in capsys.readouterr().out
    assert len(pd.read_parquet(out / "metrics.parquet")) == 2 * (1 + 2 * 2)
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    code = main(["run", "--out", str(out), "--set", "noise.sigmas=[-1]"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: noise.sigmas") and err.count("\n") == 1
    assert not out.exists()


def test_resume_on_another_device_type_is_refused(reference_run, tmp_path):
    import shutil

    out = tmp_path / "moved"
    shutil.copytree(reference_run, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["device"]["type"] = "cuda"
    store.write_json(out / "manifest.json", manifest)
    with pytest.raises(RunError, match='run.device="cuda"'):
        run_study(load_config(None, TINY + ["run.n_seeds=4", "run.models_per_unit=4"]), out, progress=False)
