"""``python -m bench run --config FILE [--set key=value ...] --out DIR``: train and evaluate a study."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.config import ConfigError, field_docs, load_config
from bench.data import DataError
from bench.runner import RunError, run_study
from bench.store import StoreError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="train and evaluate every seed into a results folder",
        epilog="config keys:\n" + "\n".join(f"  {k:24s} {doc} (default {d!r})" for k, doc, d in field_docs()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--config", type=Path, help="TOML config file (default: built-in defaults)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one key, value in TOML syntax (repeatable)",
    )
    run.add_argument("--out", type=Path, help="results folder (default: results/<config_hash>)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config, args.overrides)
        out = args.out or Path("results") / config.config_hash
        summary = run_study(config, out, progress=not args.quiet)
    except (ConfigError, DataError, RunError, StoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished units are saved; rerun the same command to resume", file=sys.stderr)
        return 130
    except OSError as err:
        print(
            f"error: {err.strerror or err} ({err.filename or 'results folder'}); "
            "free space or fix permissions, then rerun to resume",
            file=sys.stderr,
        )
        return 1
    failed = f", {len(summary.failed_seeds)} seed(s) failed (see manifest.json)" if summary.failed_seeds else ""
    print(
        f"{summary.run_dir}: {summary.n_units} units complete ({summary.n_done_before} reused, "
        f"{summary.n_run} run){failed}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
