"""A real dask.distributed cluster (two worker processes on loopback) gives the local tables."""

import pandas as pd
import pytest

from bench.config import load_config
from bench.runner import run_study
from tests.conftest import TINY, read_tables

distributed = pytest.importorskip("dask.distributed")


def test_dask_cluster_matches_local_run(mnist_dir, tmp_path):
    overrides = TINY + ["run.n_seeds=4", "run.models_per_unit=2"]
    run_study(load_config(None, overrides), tmp_path / "local", progress=False)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    try:
        remote = overrides + ['run.backend="dask"', f'run.scheduler="{cluster.scheduler_address}"', "run.n_jobs=2"]
        run_study(load_config(None, remote), tmp_path / "dask", progress=False)
    finally:
        cluster.close()
    local, dask = read_tables(tmp_path / "local"), read_tables(tmp_path / "dask")
    for table in local:
        pd.testing.assert_frame_equal(local[table], dask[table], check_exact=True, obj=table)


def test_dask_local_cluster_is_started_when_no_scheduler_is_given(mnist_dir, tmp_path):
    overrides = TINY + ["run.n_seeds=2", "run.models_per_unit=1", 'run.backend="dask"', "run.n_jobs=2"]
    summary = run_study(load_config(None, overrides), tmp_path / "auto", progress=False)
    assert summary.n_run == 2
