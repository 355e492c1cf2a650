"""Peak resident memory of a study, over the whole process tree (main process and workers).

    python benchmarks/memory.py [--seeds 100] [--baseline-seeds 20] [--epochs 1]

Runs the default study's model, data, noise grid and draws with ``--seeds`` seeds and, as the
baseline in the same process, with ``--baseline-seeds``; samples the summed RSS of the CLI
process and all its children every 0.2 s; prints both peaks and their ratio. Results stream to
disk unit by unit, so the peak should not grow with the number of seeds. Epochs do not change
memory, so one epoch keeps the benchmark short.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DATA, REPO  # noqa: E402


def peak_rss(n_seeds: int, epochs: int) -> tuple[float, float]:
    """``(peak GiB, wall seconds)`` of one study run through the CLI."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-m",
            "bench",
            "run",
            "--quiet",
            "--config",
            str(REPO / "configs" / "default.toml"),
            "--set",
            f'data.dir="{DATA}"',
            "--set",
            f"run.n_seeds={n_seeds}",
            "--set",
            f"train.epochs={epochs}",
            "--set",
            'run.device="cpu"',
            "--out",
            str(Path(tmp) / "run"),
        ]
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL)
        root = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)
        if proc.returncode != 0:
            raise SystemExit(f"the study failed with exit code {proc.returncode}")
        return peak / 2**30, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--baseline-seeds", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    base, base_s = peak_rss(args.baseline_seeds, args.epochs)
    print(f"{args.baseline_seeds:4d} seeds: peak RSS {base:.2f} GiB ({base_s:.0f} s)", flush=True)
    big, big_s = peak_rss(args.seeds, args.epochs)
    print(f"{args.seeds:4d} seeds: peak RSS {big:.2f} GiB ({big_s:.0f} s)")
    print(f"ratio {args.seeds} / {args.baseline_seeds} seeds: {big / base:.2f} (target: peak under 3 GiB)")


if __name__ == "__main__":
    main()
