"""The study configuration: nested frozen dataclasses, validated on construction.

A config comes from a TOML file plus ``--set section.key=value`` overrides (values in TOML
syntax). Every field carries a one-line doc in its ``metadata``; unknown keys, wrong types and
impossible values raise :class:`ConfigError` with a one-line message naming the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """A config value is missing, unknown, of the wrong type or out of range."""


def _doc(text: str, **kwargs):
    return field(metadata={"doc": text}, **kwargs)


@dataclass(frozen=True)
class DataConfig:
    dir: str = _doc("folder with the four MNIST IDX files; empty: $SEED_DIVERGENCE_DATA, cache, download", default="")
    val_size: int = _doc("validation examples carved from the 60k training set", default=5000)
    train_limit: int = _doc("use only the first k training examples (0: all; quick runs only)", default=0)
    test_limit: int = _doc("use only the first k test examples (0: all; quick runs only)", default=0)

    def validate(self) -> None:
        _require(self.val_size >= 1, "data.val_size", "must be at least 1")
        _require(self.train_limit >= 0, "data.train_limit", "must be >= 0 (0 means all)")
        _require(self.test_limit >= 0, "data.test_limit", "must be >= 0 (0 means all)")
        if self.train_limit:
            _require(
                self.val_size < self.train_limit,
                "data.val_size",
                f"must be smaller than data.train_limit ({self.train_limit})",
            )
        _require(self.val_size < 60000, "data.val_size", "must be smaller than 60000")


@dataclass(frozen=True)
class ModelConfig:
    hidden: tuple[int, ...] = _doc("widths of the hidden layers", default=(256, 128))
    activation: str = _doc("hidden activation: relu, tanh or gelu", default="relu")

    def validate(self) -> None:
        _require(len(self.hidden) >= 1, "model.hidden", "needs at least one hidden layer")
        _require(all(1 <= w <= 65536 for w in self.hidden), "model.hidden", "widths must be between 1 and 65536")
        _require(self.activation in ACTIVATIONS, "model.activation", f"must be one of {', '.join(ACTIVATIONS)}")


ACTIVATIONS = ("relu", "tanh", "gelu")
OPTIMIZERS = ("adam", "sgd")
SEED_MODES = ("init", "order", "both")
BACKENDS = ("loky", "threading", "dask")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = _doc("passes over the training split", default=8)
    batch_size: int = _doc("mini-batch size", default=128)
    lr: float = _doc("learning rate", default=1e-3)
    optimizer: str = _doc("adam or sgd (sgd uses momentum 0.9)", default="adam")

    def validate(self) -> None:
        _require(1 <= self.epochs <= 10000, "train.epochs", "must be between 1 and 10000")
        _require(self.batch_size >= 1, "train.batch_size", "must be at least 1")
        _require(math.isfinite(self.lr) and self.lr > 0, "train.lr", "must be a positive finite number")
        _require(self.optimizer in OPTIMIZERS, "train.optimizer", f"must be one of {', '.join(OPTIMIZERS)}")


@dataclass(frozen=True)
class RunConfig:
    n_seeds: int = _doc("number of models (seeds 0..n_seeds-1) unless run.seeds is given", default=20)
    seeds: tuple[int, ...] = _doc("explicit list of model seeds (overrides n_seeds)", default=())
    seed_mode: str = _doc("what differs between models: init, order or both", default="init")
    root_seed: int = _doc("root of every random stream of the run", default=20261204)
    models_per_unit: int = _doc("models trained together as one vectorised ensemble", default=10)
    n_jobs: int = _doc("parallel workers (units run concurrently)", default=2)
    backend: str = _doc("joblib backend: loky, threading or dask", default="loky")
    scheduler: str = _doc("dask scheduler address; empty starts a local cluster", default="")
    device: str = _doc("auto (CUDA where present), cpu or cuda", default="auto")

    def validate(self) -> None:
        _require(1 <= self.n_seeds <= 100000, "run.n_seeds", "must be between 1 and 100000")
        _require(all(0 <= s < 2**31 for s in self.seeds), "run.seeds", "seeds must be in [0, 2**31)")
        _require(len(set(self.seeds)) == len(self.seeds), "run.seeds", "seeds must be unique")
        _require(self.seed_mode in SEED_MODES, "run.seed_mode", f"must be one of {', '.join(SEED_MODES)}")
        _require(0 <= self.root_seed < 2**63, "run.root_seed", "must be in [0, 2**63)")
        _require(1 <= self.models_per_unit <= 1024, "run.models_per_unit", "must be between 1 and 1024")
        _require(1 <= self.n_jobs <= 1024, "run.n_jobs", "must be between 1 and 1024")
        _require(self.backend in BACKENDS, "run.backend", f"must be one of {', '.join(BACKENDS)}")
        _require(self.device in DEVICES, "run.device", f"must be one of {', '.join(DEVICES)}")

    @property
    def seed_list(self) -> tuple[int, ...]:
        """The model seeds of the run, in order (the first two are Model A and Model B)."""
        return self.seeds if self.seeds else tuple(range(self.n_seeds))


@dataclass(frozen=True)
class NoiseConfig:
    sigmas: tuple[float, ...] = _doc(
        "Gaussian noise levels; 0 (the clean test set) is always added",
        default=(0.0, 0.08, 0.12, 0.18, 0.26, 0.38, 0.5, 0.65, 0.8, 1.0),
    )
    n_draws: int = _doc("independent noise draws per sigma (shared by all models)", default=5)
    clip: bool = _doc("clip perturbed pixels to [0, 1]", default=True)

    def validate(self) -> None:
        _require(len(self.sigmas) >= 1, "noise.sigmas", "must list at least one noise level")
        _require(
            all(math.isfinite(s) and 0 <= s <= 100 for s in self.sigmas),
            "noise.sigmas",
            "levels must be finite numbers between 0 and 100",
        )
        _require(len(set(self.sigmas)) == len(self.sigmas), "noise.sigmas", "levels must be unique")
        _require(1 <= self.n_draws <= 1000, "noise.n_draws", "must be between 1 and 1000")

    @property
    def grid(self) -> tuple[float, ...]:
        """Sorted noise levels, always starting with 0 (the clean test set)."""
        return tuple(sorted(set(self.sigmas) | {0.0}))


@dataclass(frozen=True)
class AnalysisConfig:
    pair: tuple[int, ...] = _doc("seeds of Model A and Model B; empty: the first two seeds", default=())
    tost_margin: float = _doc("equivalence margin for clean accuracy, as a fraction (0.005 = 0.5 pp)", default=0.005)
    alpha: float = _doc("significance level of every test", default=0.05)
    confidence: float = _doc("confidence level of every interval", default=0.95)
    n_boot: int = _doc("bootstrap resamples", default=2000)
    analysis_seed: int = _doc("seed of the analysis stream (bootstraps)", default=0)
    focus_sigma: float = _doc("noise level of the pairwise divergence matrix (nearest grid level)", default=0.5)
    planner_delta: float = _doc("difference the seed-count planner should detect (metric units)", default=0.01)

    def validate(self) -> None:
        _require(len(self.pair) in (0, 2), "analysis.pair", "must name exactly two seeds, or be empty")
        _require(len(set(self.pair)) == len(self.pair), "analysis.pair", "must name two different seeds")
        _require(0 < self.tost_margin < 1, "analysis.tost_margin", "must be between 0 and 1")
        _require(0 < self.alpha < 1, "analysis.alpha", "must be between 0 and 1")
        _require(0 < self.confidence < 1, "analysis.confidence", "must be between 0 and 1")
        _require(100 <= self.n_boot <= 1_000_000, "analysis.n_boot", "must be between 100 and 1000000")
        _require(0 <= self.analysis_seed < 2**63, "analysis.analysis_seed", "must be in [0, 2**63)")
        _require(math.isfinite(self.focus_sigma), "analysis.focus_sigma", "must be a finite number")
        _require(
            math.isfinite(self.planner_delta) and self.planner_delta > 0,
            "analysis.planner_delta",
            "must be a positive number",
        )


@dataclass(frozen=True)
class BenchConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    run: RunConfig = field(default_factory=RunConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)

    def __post_init__(self) -> None:
        for section in dataclasses.fields(self):
            getattr(self, section.name).validate()
        n_train = (self.data.train_limit or 60000) - self.data.val_size
        _require(
            self.train.batch_size <= n_train,
            "train.batch_size",
            f"must not exceed the {n_train} training examples (train_limit minus val_size)",
        )
        if self.analysis.pair:
            missing = [s for s in self.analysis.pair if s not in self.run.seed_list]
            _require(not missing, "analysis.pair", f"seeds {missing} are not among the run's seeds")

    def to_dict(self) -> dict:
        """The config as plain JSON-able data (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def result_keys(self) -> dict[str, object]:
        """Flat ``section.key -> value`` of every setting that can change the results tables.

        Where the data come from, how many workers and which backend run the units, and the
        analysis settings do not change a single number of the tables, so they are left out.
        """
        flat = _flatten(self.to_dict())
        flat["run.seeds"] = list(self.run.seed_list)
        flat["noise.sigmas"] = list(self.noise.grid)
        for key in ("data.dir", "run.n_seeds", "run.n_jobs", "run.backend", "run.scheduler", "run.models_per_unit"):
            flat.pop(key)
        return {k: v for k, v in flat.items() if not k.startswith("analysis.")}

    @property
    def config_hash(self) -> str:
        """SHA-256 (first 16 hex digits) of the result-determining settings."""
        blob = json.dumps(self.result_keys(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key} {message}")


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _coerce(value: object, annotation: str, key: str) -> object:
    """Check ``value`` against a field's annotation (as written) and convert lists to tuples."""
    kind = {"int": int, "float": float, "str": str, "bool": bool}
    if annotation.startswith("tuple["):
        inner = annotation[len("tuple[") :].split(",")[0].strip()
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key} must be a list of {inner} values, got {value!r}")
        return tuple(_coerce(v, inner, key) for v in value)
    want = kind[annotation]
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and want is not bool:
        raise ConfigError(f"{key} must be {annotation}, got {value!r}")
    if not isinstance(value, want):
        raise ConfigError(f"{key} must be {annotation}, got {type(value).__name__} {value!r}")
    return value


def config_from_dict(tree: dict) -> BenchConfig:
    """Build a validated :class:`BenchConfig` from nested plain data, rejecting unknown keys."""
    if not isinstance(tree, dict):
        raise ConfigError("config must be a table of sections")
    sections = {f.name: f for f in dataclasses.fields(BenchConfig)}
    built = {}
    for name, values in tree.items():
        if name not in sections:
            raise ConfigError(f"unknown config section {name!r}; known: {', '.join(sections)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{name} must be a table of keys, got {values!r}")
        cls = sections[name].default_factory
        hints = {f.name: f.type for f in dataclasses.fields(cls)}
        for key in values:
            if key not in hints:
                raise ConfigError(f"unknown key {name}.{key}; known: {', '.join(hints)}")
        kwargs = {k: _coerce(v, hints[k], f"{name}.{k}") for k, v in values.items()}
        built[name] = cls(**kwargs)
    return BenchConfig(**built)


def parse_override(text: str) -> tuple[list[str], object]:
    """Parse ``section.key=value``; the value is TOML, or a bare string if it is not TOML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    path, raw = text.split("=", 1)
    keys = path.strip().split(".")
    if len(keys) != 2 or not all(keys):
        raise ConfigError(f"override key {path.strip()!r} must be section.key, e.g. train.epochs")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        if not raw.strip() or any(c in raw for c in "[]{}\"'"):
            raise ConfigError(
                f"override {path.strip()} has an unreadable value {raw.strip()!r}; "
                'use TOML syntax, e.g. 3, 0.5, "adam" or [0, 0.5]'
            ) from None
        value = raw.strip()
    return keys, value


def load_config(path: str | Path | None, overrides: typing.Sequence[str] = ()) -> BenchConfig:
    """Read a TOML config file (or the defaults when ``path`` is None) and apply overrides."""
    tree: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist; pass --config with a TOML file")
        try:
            tree = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"config file {path} is not valid TOML ({err})") from None
    for text in overrides:
        (section, key), value = parse_override(text)
        tree.setdefault(section, {})
        if not isinstance(tree[section], dict):
            raise ConfigError(f"{section} must be a table of keys")
        tree[section][key] = value
    return config_from_dict(tree)


def config_from_json(tree: dict) -> BenchConfig:
    """Rebuild a config saved by :meth:`BenchConfig.to_dict` (``config_hash`` is ignored)."""
    tree = {k: v for k, v in tree.items() if k != "config_hash"}
    return config_from_dict(tree)


def field_docs() -> list[tuple[str, str, object]]:
    """``(section.key, doc, default)`` for every setting, for the README and ``--help``."""
    rows = []
    for section in dataclasses.fields(BenchConfig):
        cls = section.default_factory
        for f in dataclasses.fields(cls):
            rows.append((f"{section.name}.{f.name}", f.metadata["doc"], f.default))
    return rows


__all__ = [
    "BenchConfig",
    "ConfigError",
    "load_config",
    "config_from_dict",
    "config_from_json",
    "parse_override",
    "field_docs",
]
