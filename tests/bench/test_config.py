import pytest

from bench.config import BenchConfig, ConfigError, load_config, parse_override

REPO_CONFIGS = ["configs/default.toml", "configs/tutorial.toml"]


@pytest.mark.parametrize("path", REPO_CONFIGS)
def test_shipped_configs_load(path):
    from tests.conftest import REPO

    config = load_config(REPO / path)
    assert config.noise.grid[0] == 0.0


def test_default_study_meets_the_brief():
    from tests.conftest import REPO

    config = load_config(REPO / "configs/default.toml")
    assert len(config.run.seed_list) >= 20
    assert len(config.noise.grid) >= 10 and max(config.noise.grid) >= 1.0
    assert {0.08, 0.12, 0.18, 0.26, 0.38} <= set(config.noise.grid)
    assert config.noise.n_draws >= 5


def test_overrides_are_toml_and_reach_the_config():
    config = load_config(
        None, ["train.epochs=3", "noise.sigmas=[0,0.5]", "run.backend=threading", 'train.optimizer="sgd"']
    )
    assert config.train.epochs == 3
    assert config.noise.sigmas == (0.0, 0.5)
    assert config.run.backend == "threading"
    assert config.train.optimizer == "sgd"


@pytest.mark.parametrize(
    "override, key",
    [
        ("train.epoch=3", "train.epoch"),
        ("trainer.epochs=3", "trainer"),
        ('train.epochs="three"', "train.epochs"),
        ("train.epochs=1.5", "train.epochs"),
        ("train.epochs=true", "train.epochs"),
        ("noise.sigmas=[0,-0.5]", "noise.sigmas"),
        ("noise.sigmas=[]", "noise.sigmas"),
        ("noise.sigmas=[nan]", "noise.sigmas"),
        ("run.n_seeds=0", "run.n_seeds"),
        ("model.hidden=[0]", "model.hidden"),
        ("train.batch_size=60000", "train.batch_size"),
        ("train.lr=inf", "train.lr"),
        ('run.seed_mode="random"', "run.seed_mode"),
        ("noise.sigmas=0.5", "noise.sigmas"),
        ("epochs=3", "epochs"),
    ],
)
def test_bad_values_name_their_key(override, key):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    message = str(info.value)
    assert key in message and "\n" not in message


def test_unreadable_override_value():
    with pytest.raises(ConfigError, match="TOML"):
        parse_override("noise.sigmas=[0, 0.5")


def test_hash_ignores_how_the_run_is_executed():
    base = BenchConfig()
    other = load_config(
        None,
        [
            "run.n_jobs=7",
            "run.backend=threading",
            "run.models_per_unit=3",
            'data.dir="/elsewhere"',
            "analysis.n_boot=500",
        ],
    )
    assert base.config_hash == other.config_hash
    assert load_config(None, ["train.epochs=2"]).config_hash != base.config_hash


def test_n_seeds_and_explicit_seeds_agree():
    assert load_config(None, ["run.n_seeds=3"]).run.seed_list == (0, 1, 2)
    assert load_config(None, ["run.seeds=[5, 9]"]).run.seed_list == (5, 9)


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
