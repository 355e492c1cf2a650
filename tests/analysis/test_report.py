"""The report end to end on a real tiny run, and the analysis CLI's refusals."""

import json
import re
import shutil
import subprocess

import pandas as pd
import pytest

from analysis.__main__ import main
from bench.config import load_config
from bench.runner import run_study
from tests.conftest import TINY


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from tests.conftest import MNIST_DIR

    if not MNIST_DIR.is_dir():
        pytest.skip("real MNIST not available")
    out = tmp_path_factory.mktemp("report") / "run"
    run_study(load_config(None, TINY + ["run.n_seeds=4", "analysis.n_boot=200"]), out, progress=False)
    return out


def test_report_files_tables_and_accessibility(tiny_run, capsys):
    assert main(["report", str(tiny_run)]) == 0
    report = tiny_run / "report"
    for name in (
        "index.html",
        "report.md",
        "figures/vega-bundle.js",
        "figures/accuracy_vs_sigma.svg",
        "figures/accuracy_vs_sigma.png",
        "figures/accuracy_vs_sigma.html",
    ):
        assert (report / name).is_file(), name
    summary = pd.read_csv(report / "tables" / "summary.csv")
    assert list(summary.columns) == [
        "metric",
        "sigma",
        "statistic",
        "estimate",
        "ci_low",
        "ci_high",
        "confidence",
        "n_boot",
        "method",
        "n_seeds",
    ]
    pair = pd.read_csv(report / "tables" / "pair.csv")
    assert {"sigma", "metric", "estimate", "ci_low", "ci_high", "statistic", "p_val", "p_adj", "test"} <= set(
        pair.columns
    )
    assert (report / "tables" / "pairs.csv").is_file() and (report / "tables" / "generalisation.csv").is_file()
    page = (report / "index.html").read_text()
    assert page.count("<h1>") == 1 and '<h2 id="findings">' in page and '<h2 id="methods">' in page
    alts = re.findall(r'<img src="figures/[a-z_]+\.svg" alt="([^"]+)"', page)
    assert len(alts) == 11 and all(len(a) > 40 for a in alts)
    assert "Across 4 seeds, mean clean test accuracy" in page
    assert "cdn" not in (report / "figures" / "accuracy_vs_sigma.html").read_text().lower()


def test_report_is_deterministic(tiny_run):
    main(["report", str(tiny_run)])
    first = (tiny_run / "report" / "tables" / "generalisation.csv").read_text()
    main(["report", str(tiny_run)])
    assert (tiny_run / "report" / "tables" / "generalisation.csv").read_text() == first


def test_incomplete_and_old_folders_are_refused(tiny_run, tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "not a results folder" in capsys.readouterr().err
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy, ignore=shutil.ignore_patterns("report"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["status"] = "interrupted"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert main(["report", str(copy)]) == 2
    err = capsys.readouterr().err
    assert "incomplete" in err and err.count("\n") == 1
    manifest.update(status="complete", schema_version=0)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert main(["report", str(copy)]) == 2
    assert "schema" in capsys.readouterr().err
    assert not (copy / "report").exists()


def test_only_analysis_keys_can_be_overridden(tiny_run, capsys):
    assert main(["report", str(tiny_run), "--set", "train.epochs=3"]) == 2
    assert "only analysis" in capsys.readouterr().err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_report_renders_in_a_headless_browser_without_errors(tiny_run, tmp_path):
    assert main(["report", str(tiny_run)]) == 0
    report = tiny_run / "report"
    pages = [report / "index.html", *sorted((report / "figures").glob("*.html"))]
    for page in pages:
        result = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=5000",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
        assert console == [], f"{page.name}: {console}"
        if page.name != "index.html":
            assert "<svg" in result.stdout, f"{page.name} drew no chart"
        else:
            assert result.stdout.count("<img") == 11
