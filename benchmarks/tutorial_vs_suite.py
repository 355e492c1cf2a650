"""The same study done the tutorial way and the suite's way, timed A/B alternated in one process.

    python benchmarks/tutorial_vs_suite.py [--repeats 2] [--seeds 20] [--epochs 8]

The tutorial way (what a notebook does): one model at a time, ``torch.manual_seed(seed)``, a
``DataLoader`` with shuffling, ``nn.Sequential``, Adam, then for every sigma and draw a fresh
noise tensor drawn for that model, and the same six metrics. The suite: ``run_study`` on
``configs/default.toml`` (vectorised ensembles, shared noise, two workers, Parquet output).
Same seeds, epochs, batch size, optimiser, sigma grid and draws; the mean clean accuracies of
both must agree within 0.3 percentage points. Order per repeat: suite, tutorial, then
tutorial, suite, and so on. Medians are printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.config import load_config  # noqa: E402
from bench.data import load_mnist, make_splits  # noqa: E402
from bench.runner import run_study  # noqa: E402
from bench.scoring import outcomes, score  # noqa: E402
from bench.seeding import SPLIT, stream  # noqa: E402
from benchmarks.common import DATA, REPO, median, timed  # noqa: E402


def tutorial_study(config, mnist) -> float:
    """Train and evaluate every seed the notebook way; return the mean clean accuracy."""
    torch.set_num_threads(2)
    splits = make_splits(60000, config.data.val_size, 10000, 0, 0, stream(config.run.root_seed, SPLIT))
    x = torch.tensor(mnist.train_images[splits.train_index], dtype=torch.float32) / 255
    y = torch.tensor(mnist.train_labels[splits.train_index], dtype=torch.int64)
    test_x = torch.tensor(mnist.test_images, dtype=torch.float32) / 255
    test_y = torch.tensor(mnist.test_labels, dtype=torch.int64)
    clean_accuracy = []
    for seed in config.run.seed_list:
        torch.manual_seed(seed)  # the notebook's global seeding: weights and shuffling
        widths = [784, *config.model.hidden, 10]
        layers = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=False):
            layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
        net = torch.nn.Sequential(*layers[:-1])
        opt = torch.optim.Adam(net.parameters(), lr=config.train.lr)
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(x, y), batch_size=config.train.batch_size, shuffle=True
        )
        for _ in range(config.train.epochs):
            for xb, yb in loader:
                loss = F.cross_entropy(net(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            clean = outcomes(torch.log_softmax(net(test_x), -1), test_y)
            labels = mnist.test_labels
            rows = [
                score(labels, clean["pred"], clean["pred"], clean["confidence"], clean["prob_true"], clean["brier"])
            ]
            for sigma in config.noise.grid[1:]:
                for _ in range(config.noise.n_draws):
                    noisy = (test_x + sigma * torch.randn_like(test_x)).clamp(0, 1)  # fresh noise per model
                    out = outcomes(torch.log_softmax(net(noisy), -1), test_y)
                    rows.append(
                        score(labels, out["pred"], clean["pred"], out["confidence"], out["prob_true"], out["brier"])
                    )
        clean_accuracy.append(float(rows[0]["accuracy"]))
    return float(np.mean(clean_accuracy))


def suite_study(config) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        run_study(config, Path(tmp) / "run", progress=False)
        metrics = pd.read_parquet(Path(tmp) / "run" / "metrics.parquet")
    return float(metrics.loc[metrics["sigma"] == 0, "accuracy"].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    config = load_config(
        REPO / "configs" / "default.toml",
        [f'data.dir="{DATA}"', f"run.n_seeds={args.seeds}", f"train.epochs={args.epochs}", 'run.device="cpu"'],
    )
    mnist = load_mnist(DATA)
    times = {"suite": [], "tutorial": []}
    accuracy = {"suite": [], "tutorial": []}
    for repeat in range(args.repeats):
        order = ["suite", "tutorial"] if repeat % 2 == 0 else ["tutorial", "suite"]
        for way in order:
            study = (lambda: suite_study(config)) if way == "suite" else (lambda: tutorial_study(config, mnist))
            elapsed, acc = timed(study)
            times[way].append(elapsed)
            accuracy[way].append(acc)
            print(f"repeat {repeat + 1} {way:8s} {elapsed:7.1f} s, mean clean accuracy {100 * acc:.2f}%", flush=True)
    ratio = median([t / s for t, s in zip(times["tutorial"], times["suite"], strict=True)])
    gap = 100 * (median(accuracy["suite"]) - median(accuracy["tutorial"]))
    print(
        f"\n{args.seeds} seeds x {args.epochs} epochs, {len(config.noise.grid)} noise levels x "
        f"{config.noise.n_draws} draws, {args.repeats} repeats (medians)"
    )
    print(f"suite     {median(times['suite']):7.1f} s   mean clean accuracy {100 * median(accuracy['suite']):.2f}%")
    print(
        f"tutorial  {median(times['tutorial']):7.1f} s   mean clean accuracy {100 * median(accuracy['tutorial']):.2f}%"
    )
    print(f"speed-up  {ratio:.2f}x   accuracy gap {gap:+.2f} pp ({'within' if abs(gap) <= 0.3 else 'OUTSIDE'} 0.3 pp)")


if __name__ == "__main__":
    main()
