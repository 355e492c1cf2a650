"""``python -m analysis report RUN_DIR [--set analysis.key=value ...]``: analyse and write the report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.load import AnalysisError
from bench.config import ConfigError, parse_override


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    report = sub.add_parser("report", help="analyse a results folder and write RUN_DIR/report/")
    report.add_argument("run_dir", type=Path)
    report.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="analysis.KEY=VALUE",
        help="override an analysis setting, value in TOML syntax (repeatable)",
    )
    args = parser.parse_args(argv)
    try:
        overrides = {}
        for text in args.overrides:
            (section, key), value = parse_override(text)
            if section != "analysis":
                raise ConfigError(f"{section}.{key} cannot change after the run; only analysis.* keys can")
            overrides[key] = value
        from analysis.report import write_report

        out = write_report(args.run_dir, overrides)
    except (AnalysisError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"report written to {out / 'index.html'} (and report.md, figures/, tables/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
