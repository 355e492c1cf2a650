import numpy as np
import pandas as pd

from analysis import charts, divergence
from tests.analysis.synthetic import make_cube, metrics_frame


def _summary(metrics):
    rows = []
    for (sigma,), g in metrics.groupby(["sigma"]):
        for metric in ("accuracy", "flip_rate"):
            m = g.groupby("seed")[metric].mean()
            rows.append(
                {
                    "metric": metric,
                    "sigma": sigma,
                    "statistic": "mean",
                    "estimate": m.mean(),
                    "ci_low": m.min(),
                    "ci_high": m.max(),
                }
            )
    return pd.DataFrame(rows)


def _layers(spec):
    out = []
    for key in ("layer", "hconcat"):
        for sub in spec.get(key, []):
            out += _layers(sub) if ("layer" in sub or "hconcat" in sub) else [sub]
    return out


def test_metric_vs_sigma_marks_the_pair_by_colour_dash_and_shape():
    cube = make_cube()
    metrics = metrics_frame(cube)
    spec = charts.metric_vs_sigma_chart(_summary(metrics), metrics, (0, 1), "accuracy").to_dict()
    layers = _layers(spec)
    encodings = [layer.get("encoding", {}) for layer in layers]
    assert any("strokeDash" in e for e in encodings) and any("shape" in e for e in encodings)
    colour = next(e["color"] for e in encodings if "color" in e)
    assert colour["scale"]["range"] == charts.OKABE_ITO[:2]
    assert any(layer["mark"]["type"] == "area" for layer in layers if isinstance(layer.get("mark"), dict))


def test_training_curves_have_both_splits():
    history = pd.DataFrame(
        [
            {"seed": s, "epoch": e, "split": sp, "loss": 1.0 / e, "accuracy": 1 - 1.0 / e}
            for s in range(3)
            for e in range(1, 4)
            for sp in ("train", "val")
        ]
    )
    spec = charts.training_curves_chart(history, (0, 1), "loss").to_dict()
    assert len(spec["hconcat"]) == 2
    assert [p["title"] for p in spec["hconcat"]][1] == "Validation split"


def test_divergence_matrix_prints_values_and_uses_viridis():
    cube = make_cube(n_seeds=4)
    spec = charts.divergence_matrix_chart(divergence.disagreement_matrix(cube, 0.3)).to_dict()
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]]
    assert marks == ["rect", "text"]
    assert spec["layer"][0]["encoding"]["color"]["scale"]["scheme"] == "viridis"


def test_other_charts_build():
    auc = pd.DataFrame(
        {"seed": range(4), "clean_accuracy": np.linspace(0.9, 0.95, 4), "robust_auc": [0.5, 0.6, 0.55, 0.7]}
    )
    assert charts.robustness_chart(auc, (0, 1)).to_dict()["mark"]["type"] == "point"
    gen = pd.DataFrame(
        {
            "sigma": [0.3, 0.6],
            "quantity": "fraction_equivalent_pairs_diverging",
            "estimate": [0.2, 0.5],
            "ci_low": [0.1, 0.3],
            "ci_high": [0.3, 0.7],
            "n_equivalent": 6,
            "n_diverging": [1, 3],
        }
    )
    assert len(charts.generalisation_chart(gen).to_dict()["layer"]) == 2
    bins = pd.DataFrame(
        {
            "sigma": [0.0, 0.0, 0.5],
            "bin": [13, 14, 10],
            "confidence": [0.9, 0.97, 0.7],
            "accuracy": [0.85, 0.99, 0.5],
            "count": [10, 100, 20],
        }
    )
    assert len(_layers(charts.reliability_chart(bins).to_dict())) == 3
    planner = pd.DataFrame(
        {
            "metric": "accuracy",
            "sigma": [0.0, 0.0, 0.5, 0.5],
            "n_seeds": [2, 10, 2, 10],
            "ci_half_width": [0.1, 0.01, 0.2, 0.02],
            "power": [0.1, 0.9, 0.05, 0.5],
            "delta": 0.01,
        }
    )
    assert len(charts.planner_chart(planner).to_dict()["hconcat"]) == 2
