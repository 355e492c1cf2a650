"""Training throughput of the suite against the machine's fp32 matmul peak.

    python benchmarks/throughput.py [--seeds 20] [--repeats 5]

FLOPs are counted as 6 x parameters x training examples per epoch per model. The suite runs as it
really does (the runner with the default units and workers, on the clean test set only); each
unit's training wall time comes from manifest.json, and since the units run concurrently, one
per worker, the suite's throughput is the sum of the units' FLOPs per second. The baseline is a
plain one-model-at-a-time loop with a torch DataLoader. Peak, suite and baseline are measured in
the same process, alternated in every repeat; medians are printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.config import load_config  # noqa: E402
from bench.data import load_mnist  # noqa: E402
from bench.runner import run_study  # noqa: E402
from benchmarks.common import DATA, matmul_peak, median, timed  # noqa: E402


def suite_flops_per_second(n_seeds: int, flops_per_model_epoch: float, epochs: int = 2) -> float:
    """Run the study as configured (clean test set only) and sum each unit's FLOPs over its
    training wall time, as recorded in manifest.json (units run concurrently, one per worker)."""
    config = load_config(
        REPO_CONFIG,
        [
            f'data.dir="{DATA}"',
            f"run.n_seeds={n_seeds}",
            f"train.epochs={epochs}",
            "noise.sigmas=[0]",
            "noise.n_draws=1",
            'run.device="cpu"',
        ],
    )
    with tempfile.TemporaryDirectory() as tmp:
        run_study(config, Path(tmp) / "run", progress=False)
        units = json.loads((Path(tmp) / "run" / "manifest.json").read_text())["units"].values()
    return sum(len(u["seeds"]) * flops_per_model_epoch * epochs / u["train_seconds"] for u in units)


def plain_loop_seconds_per_example(mnist, n_batches: int = 150) -> float:
    """One nn.Sequential model, torch DataLoader with shuffling, Adam: seconds per example."""
    torch.set_num_threads(torch.get_num_threads())
    x = torch.tensor(mnist.train_images[:55000], dtype=torch.float32) / 255
    y = torch.tensor(mnist.train_labels[:55000], dtype=torch.int64)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=128, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    net = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def run():
        for i, (xb, yb) in enumerate(loader):
            loss = F.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i + 1 == n_batches:
                break

    return timed(run)[0] / (n_batches * 128)


REPO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "default.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    config = load_config(REPO_CONFIG)
    mnist = load_mnist(DATA)
    widths = [784, *config.model.hidden, 10]
    n_params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=False))
    n_train = 60000 - config.data.val_size
    flops_per_epoch = 6 * n_params * n_train * args.seeds
    peaks, suite, plain = [], [], []
    for repeat in range(args.repeats):
        peaks.append(matmul_peak())
        suite.append(suite_flops_per_second(args.seeds, flops_per_epoch / args.seeds))
        plain.append(6 * n_params / plain_loop_seconds_per_example(mnist))
        print(
            f"repeat {repeat + 1}: peak {peaks[-1] / 1e9:.1f} GFLOP/s, suite {suite[-1] / 1e9:.1f}, "
            f"plain loop {plain[-1] / 1e9:.1f}",
            flush=True,
        )
    ratio_suite = median([s / p for s, p in zip(suite, peaks, strict=True)])
    ratio_plain = median([s / p for s, p in zip(plain, peaks, strict=True)])
    print(f"\nmodel {widths}, {n_params} parameters, {args.seeds} seeds, {args.repeats} repeats (medians)")
    print(f"matmul peak          {median(peaks) / 1e9:8.1f} GFLOP/s")
    print(f"suite training       {median(suite) / 1e9:8.1f} GFLOP/s   ratio to peak {ratio_suite:.2f}")
    print(f"plain one-model loop {median(plain) / 1e9:8.1f} GFLOP/s   ratio to peak {ratio_plain:.2f}")
    print(f"suite / plain loop   {median([s / p for s, p in zip(suite, plain, strict=True)]):.2f}x")


if __name__ == "__main__":
    main()
