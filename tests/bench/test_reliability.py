"""Faults never cost a user their results: kills, concurrent runs, diverging seeds, dead
workers, full disks and unwritable folders."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from analysis.__main__ import main as analysis_main
from bench import store
from bench.__main__ import main
from bench.config import load_config
from bench.runner import run_study
from tests.conftest import REPO, TINY, read_tables, run_args

STUDY = TINY + ["run.n_seeds=4", "run.models_per_unit=1"]


def _cli(out: Path, overrides: list[str]) -> list[str]:
    return [sys.executable, "-m", "bench", *run_args(out, overrides)]


def _wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


def _done_units(out: Path) -> dict:
    try:
        return json.loads((out / "manifest.json").read_text())["units"]
    except (OSError, json.JSONDecodeError, KeyError):
        return {}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    from tests.conftest import MNIST_DIR

    if not MNIST_DIR.is_dir():
        pytest.skip("real MNIST not available")
    out = tmp_path_factory.mktemp("whole") / "run"
    run_study(load_config(None, STUDY), out, progress=False)
    return read_tables(out)


def _assert_same(expected, out):
    got = read_tables(out)
    for table in expected:
        pd.testing.assert_frame_equal(expected[table], got[table], check_exact=True, obj=table)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_without_redoing_finished_units(uninterrupted, tmp_path, sig):
    out = tmp_path / "run"
    proc = subprocess.Popen(_cli(out, STUDY), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: len(_done_units(out)) >= 1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    if sig == signal.SIGINT:
        assert "rerun the same command to resume" in err and "Traceback" not in err
    finished = _done_units(out)
    assert 1 <= len(finished) < 4
    # every unit the manifest calls finished is whole and intact
    assert all(store.damaged_files(out, unit["files"]) == [] for unit in finished.values())
    before = {uid: u["finished"] for uid, u in finished.items()}
    rerun = subprocess.run(_cli(out, STUDY), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"({len(finished)} reused" in rerun.stdout
    after = _done_units(out)
    assert all(after[uid]["finished"] == stamp for uid, stamp in before.items())
    listed = {rel for unit in after.values() for rel in unit["files"]}
    assert {str(p.relative_to(out)) for p in out.glob("*.parquet/*")} == listed  # no strays, no temporaries
    _assert_same(uninterrupted, out)


def test_a_second_process_is_refused_while_the_first_runs(mnist_dir, tmp_path, capsys):
    out = tmp_path / "run"
    proc = subprocess.Popen(_cli(out, STUDY), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: (out / store.LOCK_NAME).exists())
        assert main(run_args(out, STUDY)) == 2
        err = capsys.readouterr().err
        assert "is in use by process" in err and err.count("\n") == 1
    finally:
        proc.kill()
        proc.wait()
    # the killed holder's lock is stale, so the next run takes over and finishes
    assert main(run_args(out, STUDY)) == 0


def test_a_killed_worker_fails_only_its_unit(uninterrupted, tmp_path):
    out = tmp_path / "run"
    overrides = STUDY + ["run.n_jobs=2"]
    proc = subprocess.Popen(_cli(out, overrides), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)

    def workers():
        found = []
        for child in parent.children(recursive=True):
            try:
                if "popen_loky" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                    found.append(child)
            except psutil.Error:  # exited between listing and asking
                pass
        return found

    _wait_for(lambda: len(workers()) >= 1)
    time.sleep(0.5)
    workers()[0].kill()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "worker process died" in err
    _assert_same(uninterrupted, out)


def test_diverging_seed_is_recorded_and_excluded(mnist_dir, tmp_path, monkeypatch):
    import torch

    from bench import unit

    original = unit.MlpEnsemble.from_generators

    def sabotaged(gens, hidden, activation):
        model = original(gens, hidden, activation)
        if len(gens) > 1:
            with torch.no_grad():
                model.w0[:, 1] *= 1e38  # the second model of the unit overflows to inf
        return model

    monkeypatch.setattr(unit.MlpEnsemble, "from_generators", staticmethod(sabotaged))
    out = tmp_path / "run"
    run_study(load_config(None, TINY + ["run.n_seeds=4", "run.models_per_unit=4"]), out, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["failed_seeds"]["1"]["epoch"] == 1 and "loss became" in manifest["failed_seeds"]["1"]["reason"]
    seeds = pd.read_parquet(out / "seeds.parquet")
    assert seeds.set_index("seed").loc[1, "status"] == "failed"
    assert 1 not in set(pd.read_parquet(out / "metrics.parquet")["seed"])
    assert 1 not in set(pd.read_parquet(out / "predictions.parquet")["seed"])
    assert analysis_main(["report", str(out), "--set", "analysis.n_boot=200"]) == 0
    page = (out / "report" / "index.html").read_text()
    assert "1 seed(s) failed during training and are excluded" in page
    assert "Model B (seed 2)" in page  # the pair falls back to the first two successful seeds


def test_absurd_learning_rate_fails_every_seed_but_completes(mnist_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(run_args(out, [*TINY, "run.n_seeds=2", "train.lr=1e30", 'train.optimizer="sgd"']))
    assert code == 0 and "2 seed(s) failed" in capsys.readouterr().out
    assert set(json.loads((out / "manifest.json").read_text())["failed_seeds"]) == {"0", "1"}
    assert analysis_main(["report", str(out)]) == 2
    assert "0 successfully trained seed(s)" in capsys.readouterr().err


def test_full_disk_fails_cleanly_and_keeps_finished_units(uninterrupted, tmp_path, monkeypatch, capsys):
    from bench import runner

    calls = {"n": 0}
    original = store.write_unit

    def filling_up(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "predictions.parquet")
        return original(*args, **kwargs)

    monkeypatch.setattr(runner.store, "write_unit", filling_up)
    out = tmp_path / "run"
    args = run_args(out, STUDY)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and err.count("\n") == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed" and len(manifest["units"]) == 1
    monkeypatch.setattr(runner.store, "write_unit", original)
    assert main(args) == 0
    _assert_same(uninterrupted, out)


def test_unwritable_or_too_small_output_is_refused_before_work(mnist_dir, tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(run_args(a_file / "run", TINY)) == 2
    assert "which is a file" in capsys.readouterr().err

    from bench import runner

    monkeypatch.setattr(runner.shutil, "disk_usage", lambda path: type("U", (), {"free": 1000})())
    out = tmp_path / "small"
    assert main(run_args(out, TINY)) == 2
    assert "GiB free but the results need" in capsys.readouterr().err
    assert not out.exists()
