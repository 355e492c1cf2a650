"""Write ``<run>/report/``: index.html (offline, screen-reader navigable), report.md, figures
(.html, .png, .svg per chart) and tables (CSV)."""

from __future__ import annotations

import html
import shutil
import tempfile
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import vl_convert

from analysis import charts
from analysis.findings import captions, findings
from analysis.load import RunData, load_cube, load_run
from analysis.tables import Tables, compute_tables

SIGMA_CHARTS = (
    ("accuracy", "Accuracy under noise"),
    ("flip_rate", "Flip rate under noise"),
    ("confidence", "Confidence under noise"),
    ("ece", "Calibration error under noise"),
)


def build_charts(run: RunData, t: Tables) -> dict[str, tuple[str, alt.TopLevelMixin]]:
    """``name -> (title, chart)`` in report order."""
    pair = run.pair
    grid = np.unique(t.summary["sigma"])
    planner_sigmas = sorted({float(grid[0]), float(grid[len(grid) // 2]), t.focus_sigma, float(grid[-1])})
    planner = t.planner[t.planner["sigma"].isin(planner_sigmas)]
    return {
        "generalisation": (
            "Does the divergence generalise across seeds?",
            charts.generalisation_chart(t.generalisation),
        ),
        **{
            f"{metric}_vs_sigma": (title, charts.metric_vs_sigma_chart(t.summary, run.metrics, pair, metric))
            for metric, title in SIGMA_CHARTS
        },
        "calibration": ("Reliability under noise", charts.reliability_chart(t.reliability)),
        "divergence_matrix": ("Pairwise divergence", charts.divergence_matrix_chart(t.disagreement)),
        "robustness": ("Clean accuracy and robustness", charts.robustness_chart(t.robustness, pair)),
        "loss_curves": ("Loss curves", charts.training_curves_chart(run.history, pair, "loss")),
        "accuracy_curves": ("Accuracy curves", charts.training_curves_chart(run.history, pair, "accuracy")),
        "planner": ("How many seeds does a claim need?", charts.planner_chart(planner)),
    }


TABLE_NOTES = {
    "pair": "Model A minus Model B. Columns: sigma, metric, estimate, ci_low, ci_high, statistic, p_val, "
    "p_adj, effect_size, test, confidence, n_boot.",
    "generalisation": "Fraction of clean-equivalent pairs that diverge (seed bootstrap) and multi-bootstrap "
    "means (seeds and examples resampled jointly).",
    "variance": "One-way random-effects decomposition per sigma: var_seed, var_draw and share_seed.",
    "slope_tests": "Mixed model per metric: random intercept and slope in sigma per seed; likelihood-ratio "
    "test of the slope variance.",
    "correlation": "Spearman correlation across seeds of clean accuracy with the accuracy-vs-sigma AUC.",
}


def _summary_view(summary: pd.DataFrame) -> pd.DataFrame:
    view = summary[summary["statistic"] == "mean"]
    return view[["metric", "sigma", "estimate", "ci_low", "ci_high"]].rename(columns={"estimate": "mean"})


def _shown_tables(run: RunData, t: Tables) -> list[tuple[str, str, pd.DataFrame]]:
    """``(name, heading, frame)`` of the tables printed in the report (all are in tables/)."""
    gen = t.generalisation
    shown = [
        ("summary", "Mean of every metric per sigma (seed-bootstrap BCa CI)", _summary_view(t.summary)),
        ("pair", f"Model A (seed {run.pair[0]}) versus Model B (seed {run.pair[1]})", t.pair),
        ("generalisation", "Generalisation across seeds", gen),
        (
            "variance",
            "Variance between seeds and between noise draws (accuracy)",
            t.variance_shares[t.variance_shares["metric"] == "accuracy"],
        ),
        ("slope_tests", "Do seeds degrade at different rates?", t.slope_tests),
        ("correlation", "Clean accuracy versus robustness", t.correlation),
    ]
    if len(run.failed):
        shown.insert(0, ("failed_seeds", "Failed seeds (excluded)", run.failed))
    return shown


def _format(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            out[column] = out[column].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    return out


METHODS = [
    (
        "Unit of replication",
        "The seed. Each model is trained from its own initial weights (seed_mode = {seed_mode}); "
        "all models see the same data order, the same validation split and the very same noisy test images "
        "(common random numbers: one noise tensor per draw, scaled by each sigma).",
    ),
    (
        "Per-sigma summaries",
        "Mean, between-seed SD, range and interquartile mean (25% trimmed mean) of each "
        "metric, a seed's value being its mean over noise draws. Intervals: seed bootstrap, seeds resampled whole "
        "across sigma and metrics, bias-corrected and accelerated (BCa; Efron 1987), {level} level, "
        "{n_boot} resamples.",
    ),
    (
        "Clean equivalence",
        "Two one-sided paired t-tests (TOST; Schuirmann 1987) on per-example correctness with "
        "margin +/-{margin} pp. Null: the accuracy difference is outside the margin. The CI is the {tost_level} "
        "interval TOST inverts.",
    ),
    (
        "Divergence of a pair",
        "Mean paired difference (A - B) of accuracy, flip rate (prediction differs from "
        "the model's own clean prediction) and confidence, with a paired bootstrap over test examples of each "
        "example's difference averaged over the noise draws (percentile, {n_boot} resamples). "
        "Tests on noise draw 0 (independent examples): exact McNemar "
        "(binomial test on discordant pairs; null: A-only and B-only correct items equally likely) for accuracy "
        "and flip rate, paired t for confidence; Holm-adjusted across the sigma grid per metric. Effect size: "
        "the discordant odds ratio (A-only / B-only) for McNemar, the mean difference otherwise.",
    ),
    (
        "Generalisation",
        "Every pair of seeds is tested for clean equivalence (TOST, alpha = {alpha}); the "
        "equivalent pairs are tested for divergence at each sigma > 0 (exact McNemar on draw 0), with "
        "Benjamini-Hochberg adjustment over all those pairs and sigmas. The fraction of equivalent pairs that "
        "diverge gets a seed-bootstrap percentile CI: seeds are resampled and pairs weighted by the product of "
        "their seeds' counts (resampling pairs would ignore that pairs share seeds). The MultiBERTs "
        "multi-bootstrap (Sellam et al. 2022) resamples seeds and test examples jointly for each mean.",
    ),
    (
        "Variance",
        "At each sigma, a one-way random-effects ANOVA splits each metric's variance into seeds and noise "
        "draws. A linear mixed model (statsmodels MixedLM, ML) with a fixed effect per sigma level and a random "
        "intercept and slope in sigma per seed is compared with the random-intercept model by a likelihood-ratio "
        "test whose null distribution is a 50:50 mixture of chi2(1) and chi2(2) (Self & Liang 1987).",
    ),
    (
        "Clean accuracy and robustness",
        "Spearman correlation across seeds of clean accuracy with the normalised area "
        "under the accuracy-vs-sigma curve (trapezoid rule); seed-bootstrap percentile CI, scipy's p-value.",
    ),
    (
        "Seed planner",
        "From the observed between-seed SD: the t-based CI half-width of a mean over N seeds, and "
        "the power of a two-sided two-sample t-test (noncentral t, as statsmodels' TTestIndPower) to detect a "
        "difference of {delta} between two groups of N seeds.",
    ),
    (
        "Calibration",
        "NLL, Brier score (sum over classes of squared error) and ECE with 15 equal-width confidence "
        "bins (Guo et al. 2017).",
    ),
]


def _methods(run: RunData) -> list[tuple[str, str]]:
    cfg = run.config.analysis
    values = {
        "seed_mode": run.config.run.seed_mode,
        "level": f"{100 * cfg.confidence:g}%",
        "n_boot": cfg.n_boot,
        "margin": f"{100 * cfg.tost_margin:g}",
        "tost_level": f"{100 * (1 - 2 * cfg.alpha):g}%",
        "alpha": cfg.alpha,
        "delta": cfg.planner_delta,
    }
    return [(title, text.format(**values)) for title, text in METHODS]


def _html_page(
    run: RunData,
    facts: list[str],
    figures: list[tuple[str, str, str]],
    tables: list[tuple[str, str, pd.DataFrame]],
    methods: list[tuple[str, str]],
) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Seed divergence report: {esc(run.run_dir.name)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:auto;padding:1rem;line-height:1.5}"
        "table{border-collapse:collapse;font-size:.85rem;margin-bottom:1rem}th,td{border:1px solid #444;"
        "padding:.2rem .4rem;text-align:right}th{background:#eee}caption{text-align:left;font-weight:bold}"
        "figure{margin:1.5rem 0}img{max-width:100%;height:auto}figcaption{font-size:.95rem}"
        ".wide{overflow-x:auto}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>Do equivalent models diverge under noise? Report for {esc(run.run_dir.name)}</h1>",
        '<section aria-labelledby="findings"><h2 id="findings">Findings</h2><ul>',
        *[f"<li>{esc(f)}</li>" for f in facts],
        "</ul></section>",
        '<section aria-labelledby="figures"><h2 id="figures">Figures</h2>',
    ]
    for name, title, caption in figures:
        parts += [
            f'<figure aria-labelledby="cap-{name}"><h3>{esc(title)}</h3>',
            f'<img src="figures/{name}.svg" alt="{esc(caption)}">',
            f'<figcaption id="cap-{name}">{esc(caption)} '
            f'<a href="figures/{name}.html">Interactive version</a>, '
            f'<a href="figures/{name}.png">PNG</a>.</figcaption></figure>',
        ]
    parts.append('</section><section aria-labelledby="tables"><h2 id="tables">Tables</h2>')
    parts.append("<p>Every table, in full, is in <code>tables/</code> as CSV.</p>")
    for name, heading, frame in tables:
        note = TABLE_NOTES.get(name, "")
        parts += [
            f"<h3>{esc(heading)}</h3>",
            f"<p>{esc(note)} File: <code>tables/{name}.csv</code>.</p>"
            if note
            else f"<p>File: <code>tables/{name}.csv</code>.</p>",
            '<div class="wide">',
            _format(frame)
            .to_html(index=False, border=0, escape=True)
            .replace("<table", f'<table aria-label="{esc(heading)}"', 1),
            "</div>",
        ]
    parts.append('</section><section aria-labelledby="methods"><h2 id="methods">Methods</h2>')
    for title, text in methods:
        parts += [f"<h3>{esc(title)}</h3>", f"<p>{esc(text)}</p>"]
    parts += ["</section>", "</main>", "</body>", "</html>"]
    return "\n".join(parts)


def _markdown(run: RunData, facts, figures, tables, methods) -> str:
    lines = [f"# Do equivalent models diverge under noise? Report for {run.run_dir.name}", "", "## Findings", ""]
    lines += [f"- {f}" for f in facts] + ["", "## Figures", ""]
    for name, title, caption in figures:
        lines += [f"### {title}", "", f"![{caption}](figures/{name}.svg)", "", f"*{caption}*", ""]
    lines += ["## Tables", "", "Every table, in full, is in `tables/` as CSV.", ""]
    for name, heading, frame in tables:
        lines += [
            f"### {heading}",
            "",
            f"File: `tables/{name}.csv`. {TABLE_NOTES.get(name, '')}",
            "",
            _format(frame).to_markdown(index=False),
            "",
        ]
    lines += ["## Methods", ""]
    for title, text in methods:
        lines += [f"### {title}", "", text, ""]
    return "\n".join(lines)


BUNDLE = "vega-bundle.js"


def write_vega_bundle(folder: Path) -> None:
    """Vega, Vega-Lite and vega-embed in one local file, shared by every interactive figure."""
    version = "v" + ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    (folder / BUNDLE).write_text(vl_convert.javascript_bundle(vl_version=version))


def save_chart(chart: alt.TopLevelMixin, folder: Path, name: str, title: str, caption: str) -> None:
    """Write ``name``.svg, .png and an offline .html (using the local Vega bundle)."""
    chart = chart.properties(description=caption)  # becomes the SVG's aria-label
    chart.save(folder / f"{name}.svg")
    chart.save(folder / f"{name}.png", scale_factor=2)
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'<script src="{BUNDLE}"></script></head><body><main><h1>{html.escape(title)}</h1>'
        f'<div id="chart" role="img" aria-label="{html.escape(caption)}"></div>'
        f"<p>{html.escape(caption)}</p></main>"
        f"<script>vegaEmbed('#chart', {chart.to_json(indent=None)});</script></body></html>\n"
    )
    (folder / f"{name}.html").write_text(page)


def write_report(run_dir: str | Path, overrides: dict | None = None) -> Path:
    """Analyse ``run_dir`` and write ``run_dir/report/`` (replaced whole, atomically)."""
    run = load_run(run_dir, overrides)
    t = compute_tables(run, load_cube(run))
    facts, caps, chart_set = findings(run, t), captions(run, t), build_charts(run, t)
    final = run.run_dir / "report"
    staging = Path(tempfile.mkdtemp(prefix=".report-", dir=run.run_dir))
    staging.chmod(0o755)
    try:
        (staging / "figures").mkdir()
        (staging / "tables").mkdir()
        figures = []
        write_vega_bundle(staging / "figures")
        for name, (title, chart) in chart_set.items():
            save_chart(chart, staging / "figures", name, title, caps[name])
            figures.append((name, title, caps[name]))
        for name, frame in t.csv_tables().items():
            frame.to_csv(staging / "tables" / f"{name}.csv", index=False)
        if len(run.failed):
            run.failed.to_csv(staging / "tables" / "failed_seeds.csv", index=False)
        shown, methods = _shown_tables(run, t), _methods(run)
        (staging / "index.html").write_text(_html_page(run, facts, figures, shown, methods))
        (staging / "report.md").write_text(_markdown(run, facts, figures, shown, methods))
        old = run.run_dir / ".report-old"
        if final.exists():
            final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
