"""Altair charts: pure functions, tidy DataFrame in, Chart out (no files, no statistics).

Every chart uses the Okabe-Ito colour-blind-safe palette (or viridis for magnitudes) and tells
series apart by dash and point shape as well as colour; Model A and Model B are always blue
circles on a solid line and vermillion squares on a dashed line.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
SEED_GREY = "#8c8c8c"
WIDTH, HEIGHT = 360, 240
LABELS = {
    "accuracy": "Accuracy",
    "flip_rate": "Flip rate",
    "confidence": "Mean confidence",
    "nll": "NLL",
    "brier": "Brier score",
    "ece": "ECE (15 bins)",
    "loss": "Cross-entropy loss",
}


def _role(seed: int, pair: tuple[int, int]) -> str:
    return {pair[0]: f"Model A (seed {pair[0]})", pair[1]: f"Model B (seed {pair[1]})"}.get(seed, "other seeds")


def _pair_encodings(pair: tuple[int, int]) -> dict:
    domain = [f"Model A (seed {pair[0]})", f"Model B (seed {pair[1]})"]
    return {
        "color": alt.Color("role:N", title=None, scale=alt.Scale(domain=domain, range=OKABE_ITO[:2])),
        "strokeDash": alt.StrokeDash("role:N", title=None, scale=alt.Scale(domain=domain, range=[[1, 0], [6, 3]])),
        "shape": alt.Shape("role:N", title=None, scale=alt.Scale(domain=domain, range=["circle", "square"])),
    }


def _pair_layers(frame: pd.DataFrame, x: alt.X, y: alt.Y, pair: tuple[int, int], tooltip: list) -> alt.Chart:
    """Thin grey lines for every seed, then Model A and B as coloured, dashed, marked lines."""
    data = frame.assign(role=[_role(s, pair) for s in frame["seed"]])
    enc = _pair_encodings(pair)
    seeds = (
        alt.Chart(data)
        .mark_line(color=SEED_GREY, strokeWidth=0.7, opacity=0.6)
        .encode(x=x, y=y, detail="seed:N", tooltip=tooltip)
    )
    highlighted = alt.Chart(data).transform_filter(alt.datum.role != "other seeds")
    return seeds + _lines_and_points(highlighted, x, y, enc, tooltip, detail="seed:N")


def _lines_and_points(base: alt.Chart, x: alt.X, y: alt.Y, enc: dict, tooltip: list, **extra) -> alt.LayerChart:
    """A line per series (colour and dash) with a marker per point (colour and shape)."""
    lines = base.mark_line(strokeWidth=2).encode(x=x, y=y, color=enc["color"], strokeDash=enc["strokeDash"], **extra)
    points = base.mark_point(size=45, filled=True).encode(
        x=x, y=y, color=enc["color"], shape=enc["shape"], tooltip=tooltip
    )
    return lines + points


def training_curves_chart(history: pd.DataFrame, pair: tuple[int, int], measure: str) -> alt.HConcatChart:
    """Per-epoch ``measure`` (loss or accuracy), training split left, validation right."""
    panels = []
    for split in ("train", "val"):
        part = history[history["split"] == split]
        title = {"train": "Training split (running mean over the epoch)", "val": "Validation split"}[split]
        layer = _pair_layers(
            part,
            alt.X("epoch:Q", title="Epoch", axis=alt.Axis(tickMinStep=1)),
            alt.Y(f"{measure}:Q", title=LABELS[measure], scale=alt.Scale(zero=False)),
            pair,
            ["seed:N", "epoch:Q", alt.Tooltip(f"{measure}:Q", format=".4f")],
        )
        panels.append(layer.properties(width=WIDTH * 0.8, height=HEIGHT, title=title))
    return alt.hconcat(*panels).resolve_scale(y="shared")


def metric_vs_sigma_chart(
    summary: pd.DataFrame, metrics: pd.DataFrame, pair: tuple[int, int], metric: str
) -> alt.LayerChart:
    """Mean across seeds with its CI band (black, grey band), each seed thin, A and B marked."""
    means = summary[(summary["metric"] == metric) & (summary["statistic"] == "mean")]
    per_seed = metrics.groupby(["seed", "sigma"], as_index=False)[metric].mean()
    x = alt.X("sigma:Q", title="Gaussian noise sigma")
    y = alt.Y(f"{metric}:Q", title=LABELS[metric])
    band = (
        alt.Chart(means)
        .mark_area(color="#bdbdbd", opacity=0.5)
        .encode(
            x=x,
            y=alt.Y("ci_low:Q", title=LABELS[metric]),
            y2="ci_high:Q",
            tooltip=[
                alt.Tooltip("sigma:Q"),
                alt.Tooltip("ci_low:Q", format=".4f"),
                alt.Tooltip("ci_high:Q", format=".4f"),
            ],
        )
    )
    mean = (
        alt.Chart(means)
        .mark_line(color="black", strokeWidth=2.5)
        .encode(
            x=x,
            y=alt.Y("estimate:Q", title=LABELS[metric]),
            tooltip=[alt.Tooltip("sigma:Q"), alt.Tooltip("estimate:Q", format=".4f", title="mean")],
        )
    )
    seeds = _pair_layers(per_seed, x, y, pair, ["seed:N", "sigma:Q", alt.Tooltip(f"{metric}:Q", format=".4f")])
    return (band + seeds + mean).properties(width=WIDTH, height=HEIGHT, title=f"{LABELS[metric]} under Gaussian noise")


DASHES = [[1, 0], [6, 3], [2, 2], [8, 2, 2, 2], [4, 4], [1, 3]]
SHAPES = ["circle", "square", "triangle-up", "diamond", "cross", "triangle-down"]


def _by_sigma(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Add a ``level`` label per sigma and colour, dash and shape encodings that all follow it."""
    levels = sorted(frame["sigma"].unique())
    labels = [f"sigma = {s:g}" for s in levels]
    data = frame.assign(level=[f"sigma = {s:g}" for s in frame["sigma"]])
    encodings = {
        "color": alt.Color("level:N", title=None, scale=alt.Scale(domain=labels, range=OKABE_ITO[: len(levels)])),
        "strokeDash": alt.StrokeDash(
            "level:N", title=None, scale=alt.Scale(domain=labels, range=DASHES[: len(levels)])
        ),
        "shape": alt.Shape("level:N", title=None, scale=alt.Scale(domain=labels, range=SHAPES[: len(levels)])),
    }
    return data, encodings


def reliability_chart(bins: pd.DataFrame) -> alt.LayerChart:
    """Reliability diagram per sigma (colour, dash and shape by sigma) with the diagonal."""
    data, enc = _by_sigma(bins)
    x = alt.X("confidence:Q", title="Mean confidence in bin", scale=alt.Scale(domain=[0, 1]))
    y = alt.Y("accuracy:Q", title="Accuracy in bin", scale=alt.Scale(domain=[0, 1]))
    diagonal = (
        alt.Chart(pd.DataFrame({"confidence": [0, 1], "accuracy": [0, 1]}))
        .mark_line(color=SEED_GREY, strokeDash=[3, 3])
        .encode(x=x, y=y)
    )
    tooltip = ["level:N", alt.Tooltip("confidence:Q", format=".3f"), alt.Tooltip("accuracy:Q", format=".3f"), "count:Q"]
    return (diagonal + _lines_and_points(alt.Chart(data), x, y, enc, tooltip)).properties(
        width=WIDTH, height=HEIGHT, title="Calibration under noise (all seeds and draws pooled)"
    )


def divergence_matrix_chart(matrix: pd.DataFrame) -> alt.LayerChart:
    """Pairwise disagreement (viridis) with the percentage printed in every cell."""
    sigma = matrix["sigma"].iloc[0]
    data = matrix.assign(percent=(100 * matrix["disagreement"]).round(0).astype(int).astype(str))
    size = max(12 * matrix["seed_a"].nunique(), 240)
    base = alt.Chart(data).encode(x=alt.X("seed_b:O", title="Seed"), y=alt.Y("seed_a:O", title="Seed"))
    cells = base.mark_rect().encode(
        color=alt.Color(
            "disagreement:Q", title="Disagreement", scale=alt.Scale(scheme="viridis"), legend=alt.Legend(format="%")
        ),
        tooltip=["seed_a:O", "seed_b:O", alt.Tooltip("disagreement:Q", format=".2%")],
    )
    text = base.mark_text(fontSize=7).encode(
        text="percent:N",
        color=alt.condition(
            alt.datum.disagreement > matrix["disagreement"].max() / 2, alt.value("black"), alt.value("white")
        ),
    )
    return (cells + text).properties(
        width=size, height=size, title=f"Share of test images two seeds label differently, sigma = {sigma:g} (%)"
    )


def robustness_chart(auc: pd.DataFrame, pair: tuple[int, int]) -> alt.LayerChart:
    """Clean accuracy against robustness AUC, one point per seed; A and B marked."""
    data = auc.assign(role=[_role(s, pair) for s in auc["seed"]])
    domain = [f"Model A (seed {pair[0]})", f"Model B (seed {pair[1]})", "other seeds"]
    x = alt.X("clean_accuracy:Q", title="Clean test accuracy", scale=alt.Scale(zero=False))
    y = alt.Y("robust_auc:Q", title="Mean accuracy over the sigma grid (AUC)", scale=alt.Scale(zero=False))
    return (
        alt.Chart(data)
        .mark_point(filled=True, size=70)
        .encode(
            x=x,
            y=y,
            color=alt.Color("role:N", title=None, scale=alt.Scale(domain=domain, range=[*OKABE_ITO[:2], SEED_GREY])),
            shape=alt.Shape(
                "role:N", title=None, scale=alt.Scale(domain=domain, range=["circle", "square", "triangle-up"])
            ),
            tooltip=[
                "seed:N",
                alt.Tooltip("clean_accuracy:Q", format=".4f"),
                alt.Tooltip("robust_auc:Q", format=".4f"),
            ],
        )
        .properties(width=WIDTH, height=HEIGHT, title="Does clean accuracy predict robustness?")
    )


def generalisation_chart(generalisation: pd.DataFrame) -> alt.LayerChart:
    """Fraction of clean-equivalent pairs that diverge, per sigma, with CI error bars."""
    rows = generalisation[generalisation["quantity"] == "fraction_equivalent_pairs_diverging"]
    # A fixed x domain keeps the axes even when no pair was equivalent and nothing is drawn.
    x = alt.X("sigma:Q", title="Gaussian noise sigma", scale=alt.Scale(domain=[0, float(rows["sigma"].max())]))
    data = rows.dropna(subset=["estimate"])
    bars = (
        alt.Chart(data)
        .mark_errorbar(color="black")
        .encode(
            x=x,
            y=alt.Y(
                "ci_low:Q",
                title="Equivalent pairs that diverge",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            y2="ci_high:Q",
        )
    )
    line = (
        alt.Chart(data)
        .mark_line(color=OKABE_ITO[0], point=alt.OverlayMarkDef(filled=True, size=50))
        .encode(
            x=x,
            y="estimate:Q",
            tooltip=[
                "sigma:Q",
                alt.Tooltip("estimate:Q", format=".1%"),
                alt.Tooltip("ci_low:Q", format=".1%"),
                alt.Tooltip("ci_high:Q", format=".1%"),
                "n_equivalent:Q",
                "n_diverging:Q",
            ],
        )
    )
    return (bars + line).properties(
        width=WIDTH, height=HEIGHT, title="How often do equivalent pairs diverge under noise?"
    )


def planner_chart(planner: pd.DataFrame, metric: str = "accuracy") -> alt.HConcatChart:
    """CI half-width and power against the number of seeds, one line per sigma (colour, dash, shape)."""
    data = planner[planner["metric"] == metric]
    data, enc = _by_sigma(data)
    x = alt.X("n_seeds:Q", title="Number of seeds", scale=alt.Scale(type="log"))
    panels = []
    for column, title, fmt in (
        ("ci_half_width", "CI half-width of the mean", ".4f"),
        ("power", f"Power to detect a difference of {data['delta'].iloc[0]:g}", ".2f"),
    ):
        y = alt.Y(f"{column}:Q", title=title)
        tooltip = ["level:N", "n_seeds:Q", alt.Tooltip(f"{column}:Q", format=fmt)]
        panels.append(
            _lines_and_points(alt.Chart(data), x, y, enc, tooltip).properties(
                width=WIDTH * 0.8, height=HEIGHT, title=title
            )
        )
    return alt.hconcat(*panels)
