"""Plan units (groups of seeds), fan them out with joblib, record each one as it finishes.

Resuming: a unit that the manifest lists as done, with intact files, is never redone; every
other unit (never started, interrupted, damaged) is planned again. A folder made with a
different config is refused, naming the keys that differ.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import torch
from joblib.externals.loky.process_executor import BrokenProcessPool, TerminatedWorkerError
from tqdm import tqdm

from bench import seeding, store
from bench.config import BenchConfig, config_from_json
from bench.data import Mnist, load_mnist, make_splits
from bench.unit import resolve_device, run_unit


class RunError(RuntimeError):
    """The run cannot start or continue as asked."""


@dataclass(frozen=True)
class RunSummary:
    run_dir: Path
    n_units: int
    n_done_before: int
    n_run: int
    failed_seeds: dict[int, dict]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def plan_units(seeds: list[int], models_per_unit: int, first_id: int) -> dict[int, list[int]]:
    """Chunk ``seeds`` (in order) into units of at most ``models_per_unit``, numbered from ``first_id``."""
    return {first_id + i: seeds[j : j + models_per_unit] for i, j in enumerate(range(0, len(seeds), models_per_unit))}


def _versions() -> dict[str, str]:
    import altair
    import pandas
    import pyarrow
    import scipy
    import statsmodels

    mods = {
        "torch": torch,
        "numpy": np,
        "pandas": pandas,
        "pyarrow": pyarrow,
        "scipy": scipy,
        "statsmodels": statsmodels,
        "altair": altair,
        "joblib": joblib,
    }
    return {name: mod.__version__ for name, mod in mods.items()}


def _check_same_config(run_dir: Path, config: BenchConfig) -> None:
    saved = config_from_json(store.read_json(run_dir / "config.json")).result_keys()
    now = config.result_keys()
    differing = sorted(k for k in now if saved.get(k) != now[k])
    if differing:
        raise RunError(
            f"{run_dir} holds results of a different config ({', '.join(differing)} "
            "differ); use another --out folder or the same config"
        )


BYTES_PER_PREDICTION = 24  # Parquet bytes per predictions row, measured on the default study (about 19)


def _check_writable(run_dir: Path) -> None:
    """Refuse, before any work, an output location that cannot be created or written."""
    parent = run_dir
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise RunError(f"--out {run_dir} lies under {parent}, which is a file; choose another folder")
    try:
        probe = tempfile.NamedTemporaryFile(dir=parent, prefix=".write-test-")
        probe.close()
    except OSError as err:
        raise RunError(f"cannot write to {parent} ({err.strerror}); choose a writable --out folder") from None


def _check_space(run_dir: Path, config: BenchConfig, n_seeds: int, n_test: int) -> None:
    """Refuse a run whose tables will not fit on the disk, estimated from the predictions rows."""
    n_conditions = 1 + len([s for s in config.noise.grid if s > 0]) * config.noise.n_draws
    needed = BYTES_PER_PREDICTION * n_seeds * n_conditions * n_test
    existing = run_dir
    while not existing.exists():
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if free < needed:
        raise RunError(
            f"{run_dir} has {free / 2**30:.2f} GiB free but the results need about {needed / 2**30:.2f} GiB; "
            "free space or choose another --out"
        )


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _open_manifest(run_dir: Path, config: BenchConfig, mnist: Mnist, device: torch.device) -> dict:
    path = run_dir / "manifest.json"
    manifest = store.read_json(path) if path.exists() else {"units": {}, "started": _now()}
    before = manifest.get("device", {}).get("type")
    if manifest.get("units") and before not in (None, device.type):
        raise RunError(
            f"{run_dir} was started on {before} and this run would use {device.type}, whose numbers differ "
            f'slightly; pass --set run.device="{before}" to continue it, or use another --out'
        )
    manifest.update(
        {
            "schema_version": store.SCHEMA_VERSION,
            "config_hash": config.config_hash,
            "versions": _versions(),
            "platform": {
                "python": sys.version.split()[0],
                "system": platform.platform(),
                "machine": platform.machine(),
                "cpu_count": os.cpu_count(),
            },
            "device": {
                "type": device.type,
                "name": torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name(),
            },
            "data": {"source": mnist.source, "md5": mnist.checksums},
            "status": "running",
            "finished": None,
        }
    )
    return manifest


def _verified_done(run_dir: Path, manifest: dict) -> dict[str, dict]:
    """Done units whose files are intact; damaged ones are reported and dropped (to be redone)."""
    done = {}
    for unit_id, unit in manifest["units"].items():
        if unit.get("status") != "done":
            continue
        bad = store.damaged_files(run_dir, unit["files"])
        if bad:
            print(f"warning: unit {unit_id} is damaged ({bad[0]} is missing or altered); redoing it", file=sys.stderr)
            continue
        done[unit_id] = unit
    return done


def _work(config: BenchConfig, unit_id: int, seeds: list[int], mnist: Mnist, splits, n_threads: int, show_epochs: bool):
    torch.set_num_threads(n_threads)
    started = time.perf_counter()
    # One epoch bar per concurrent worker, on the lines below the units bar (terminals only).
    bar = tqdm(
        total=config.train.epochs,
        desc=f"unit {unit_id} epochs",
        leave=False,
        position=1 + unit_id % config.run.n_jobs,
        disable=None if show_epochs else True,
    )
    tables = run_unit(config, seeds, mnist, splits, on_epoch=lambda _: bar.update())
    bar.close()
    return unit_id, tables, time.perf_counter() - started


@contextlib.contextmanager
def _backend(config: BenchConfig, shared: list):
    """joblib's parallel config for the chosen backend (a dask Client for ``dask``).

    On dask, the ``shared`` arguments (the MNIST arrays) are scattered to the workers once
    instead of travelling with every task.
    """
    if config.run.backend != "dask":
        with joblib.parallel_config(backend=config.run.backend, n_jobs=config.run.n_jobs):
            yield
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise RunError("run.backend = dask needs dask.distributed; pip install 'seed-divergence[cluster]'") from None
    if config.run.scheduler:
        client = Client(config.run.scheduler, timeout="30s")
        cluster = None
    else:
        cluster = LocalCluster(
            n_workers=config.run.n_jobs, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
        client = Client(cluster)
    try:
        with joblib.parallel_config(backend="dask", n_jobs=config.run.n_jobs, scatter=shared):
            yield
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_study(config: BenchConfig, run_dir: Path, progress: bool = True) -> RunSummary:
    """Train and evaluate every seed of ``config`` into ``run_dir``, resuming finished work."""
    run_dir = Path(run_dir)
    _check_writable(run_dir)
    if (
        run_dir.exists()
        and any(p.name != store.LOCK_NAME for p in run_dir.iterdir())
        and not (run_dir / "config.json").exists()
    ):
        raise RunError(f"{run_dir} is not empty and holds no config.json; choose an empty or new --out folder")
    if (run_dir / "config.json").exists():
        _check_same_config(run_dir, config)
    device = resolve_device(config.run.device)
    mnist = load_mnist(config.data.dir)
    splits = make_splits(
        len(mnist.train_images),
        config.data.val_size,
        len(mnist.test_images),
        config.data.train_limit,
        config.data.test_limit,
        seeding.stream(config.run.root_seed, seeding.SPLIT),
    )
    if not run_dir.exists():
        _check_space(run_dir, config, len(config.run.seed_list), splits.n_test)
    run_dir.mkdir(parents=True, exist_ok=True)
    with store.RunLock(run_dir):
        if not (run_dir / "config.json").exists():
            store.write_json(run_dir / "config.json", {**config.to_dict(), "config_hash": config.config_hash})
        manifest = _open_manifest(run_dir, config, mnist, device)
        done = _verified_done(run_dir, manifest)
        n_reused = len(done)
        manifest["units"] = done
        store.remove_unit_files(run_dir, keep={rel for u in done.values() for rel in u["files"]})
        store.write_json(run_dir / "manifest.json", manifest)
        finished_seeds = {s for unit in done.values() for s in unit["seeds"]}
        pending_seeds = [s for s in config.run.seed_list if s not in finished_seeds]
        first_id = max((int(i) for i in done), default=-1) + 1
        _check_space(run_dir, config, len(pending_seeds), splits.n_test)
        plan = plan_units(pending_seeds, config.run.models_per_unit, first_id)
        _execute(config, run_dir, manifest, plan, mnist, splits, progress)
        manifest["status"] = "complete"
        manifest["finished"] = _now()
        store.write_json(run_dir / "manifest.json", manifest)
    return RunSummary(run_dir, len(manifest["units"]), n_reused, len(plan), manifest.get("failed_seeds", {}))


def _record(run_dir: Path, manifest: dict, unit_id: int, seeds: list[int], tables, seconds: float) -> None:
    """Write one finished unit's files, then list it (with checksums) in the manifest."""
    files = store.write_unit(run_dir, unit_id, {t: getattr(tables, t) for t in store.TABLES})
    for row in tables.seeds[tables.seeds["status"] == "failed"].itertuples():
        manifest.setdefault("failed_seeds", {})[str(row.seed)] = {"epoch": int(row.failed_epoch), "reason": row.reason}
    manifest["units"][str(unit_id)] = {
        "seeds": seeds,
        "status": "done",
        "files": files,
        "seconds": round(seconds, 2),
        **{k: round(v, 3) for k, v in tables.timings.items()},
        "finished": _now(),
    }
    store.write_json(run_dir / "manifest.json", manifest)


WORKER_DEATHS = (TerminatedWorkerError, BrokenProcessPool)
MAX_ATTEMPTS = 2


def _execute(
    config: BenchConfig, run_dir: Path, manifest: dict, plan: dict[int, list[int]], mnist: Mnist, splits, progress: bool
) -> None:
    """Run the planned units, recording each as it finishes.

    A worker that dies (killed, out of memory) breaks the pool; the units it did not finish are
    planned again once, in a fresh pool. If workers die again, the run stops with every finished
    unit saved, so that rerunning the command redoes only the rest.
    """
    n_threads = max(1, (os.cpu_count() or 1) // min(config.run.n_jobs, max(1, len(plan))))
    if config.run.backend == "threading":
        torch.set_num_threads(n_threads)
    show_epochs = progress and config.run.backend != "dask"  # remote workers have no terminal
    bar = tqdm(total=len(plan), desc="units", unit="unit", disable=not progress or not plan)
    pending = dict(plan)
    try:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with _backend(config, shared=[mnist, splits]):
                    results = joblib.Parallel(return_as="generator_unordered")(
                        joblib.delayed(_work)(config, unit_id, seeds, mnist, splits, n_threads, show_epochs)
                        for unit_id, seeds in list(pending.items())
                    )
                    for unit_id, tables, seconds in results:
                        _record(run_dir, manifest, unit_id, pending.pop(unit_id), tables, seconds)
                        bar.update()
                break
            except WORKER_DEATHS as err:
                if attempt == MAX_ATTEMPTS:
                    raise RunError(
                        f"a worker process died twice ({type(err).__name__}: killed or out of memory) with units "
                        f"{sorted(pending)} unfinished; {len(manifest['units'])} finished units are saved, so "
                        "rerun the same command (with fewer run.models_per_unit if memory is short)"
                    ) from None
                print(f"warning: a worker process died; retrying units {sorted(pending)}", file=sys.stderr)
    except BaseException as err:
        manifest["status"] = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
        store.write_json(run_dir / "manifest.json", manifest)
        raise
    finally:
        bar.close()
