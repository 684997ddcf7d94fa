import pytest

from nesinterp.config import CONFIG_DIR, Config, ConfigError, load_config, parse_override


def test_every_bundled_config_loads():
    names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    assert {"nesmdb", "tiny", "mnist", "lines", "nesmdb-ae", "nesmdb-acai", "nesmdb-mmd"} <= set(names)
    for name in names:
        cfg = load_config(name)
        assert isinstance(cfg, Config) and cfg.name == name


def test_default_is_acai_plus_wwae_on_nesmdb():
    cfg = load_config()
    assert cfg.data.kind == "nesmdb" and cfg.acai.enabled and cfg.regularizer.kind == "wwae"
    assert cfg.data.path == "data/nesmdb" and cfg.model.kind == "conv1d"


def test_overrides_are_typed():
    cfg = load_config("tiny", ["train.steps=7", "optim.lr=1e-2", "acai.enabled=false",
                               "regularizer.kind=mmd_imq", "data.path=some/where"])
    assert cfg.train.steps == 7 and cfg.optim.lr == 0.01 and cfg.acai.enabled is False
    assert cfg.regularizer.kind == "mmd_imq" and cfg.data.path == "some/where"
    assert parse_override("acai.weight=0.25") == ("acai", "weight", 0.25)


@pytest.mark.parametrize("override, message", [
    ("train.stepz=3", "unknown key train.stepz"),
    ("trian.steps=3", "unknown section 'trian'"),
    ("train.steps=many", "train.steps must be int"),
    ("regularizer.kind=vae", "regularizer.kind must be one of"),
    ("model.kind=rnn", "model.kind must be conv1d or acai2d"),
    ("train.batch=1", "train.batch"),
    ("steps=3", "section.key=value"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("tiny", [override])


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2")
    with pytest.raises(ConfigError, match="unreadable config"):
        load_config(bad)
    bad.write_text("- a list")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)


def test_resolved_config_round_trips_through_yaml(tmp_path):
    cfg = load_config("nesmdb-gan", ["train.steps=5"])
    path = tmp_path / "c.yaml"
    path.write_text(cfg.to_yaml())
    assert load_config(path) == cfg
