"""Peak resident memory of a study, over the whole process tree (main process and workers).

    python benchmarks/memory.py [--seeds 100] [--baseline-seeds 20] [--epochs 1]

Runs the default study's model, data, noise grid and draws with ``--seeds`` seeds and, as the
baseline in the same process, with ``--baseline-seeds``; samples the CLI process and all its
children every 0.25 s and prints the peaks of their summed PSS (proportional set size: shared
pages such as the torch libraries and the memory-mapped MNIST arrays counted once) and summed
RSS (shared pages counted in every process, an upper bound), and the ratio of the PSS peaks. Results stream to
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


def peak_memory(n_seeds: int, epochs: int) -> tuple[float, float, float]:
    """``(peak PSS GiB, peak RSS GiB, wall seconds)`` of one study run through the CLI."""
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
        peak_pss = peak_rss = 0
        while proc.poll() is None:
            pss = rss = 0
            for process in [root, *root.children(recursive=True)]:
                try:
                    info = process.memory_full_info()
                except psutil.Error:  # exited between listing and reading
                    continue
                pss, rss = pss + info.pss, rss + info.rss
            peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
            time.sleep(0.25)
        if proc.returncode != 0:
            raise SystemExit(f"the study failed with exit code {proc.returncode}")
        return peak_pss / 2**30, peak_rss / 2**30, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--baseline-seeds", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    peaks = {}
    for n_seeds in (args.baseline_seeds, args.seeds):
        pss, rss, wall = peaks[n_seeds] = peak_memory(n_seeds, args.epochs)
        print(f"{n_seeds:4d} seeds: peak PSS {pss:.2f} GiB, peak RSS {rss:.2f} GiB ({wall:.0f} s)", flush=True)
    ratio = peaks[args.seeds][0] / peaks[args.baseline_seeds][0]
    print(f"peak PSS ratio {args.seeds} / {args.baseline_seeds} seeds: {ratio:.2f} (target: under 3 GiB at 100 seeds)")


if __name__ == "__main__":
    main()
