from pathlib import Path

import pytest

from nesinterp.config import CONFIG_DIR, Config, ConfigError, load_config, parse_override


def test_every_bundled_config_loads():
    names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    assert {"nesmdb", "tiny", "mnist", "lines", "nesmdb-ae", "nesmdb-acai", "nesmdb-mmd"} <= set(names)
    for name in names:
        cfg = load_config(name)
        assert isinstance(cfg, Config) and cfg.name == name


def test_default_is_the_bundled_models_recipe():
    import json

    from nesinterp.config import DEFAULT_CONFIG
    from nesinterp.trained_model import PRETRAINED

    cfg = load_config()
    bundled = json.loads((PRETRAINED / "model.json").read_text())["config"]
    assert cfg.name == DEFAULT_CONFIG == bundled["name"]  # `nesinterp train` trains what ships
    assert cfg.data.kind == "nesmdb" and cfg.acai.enabled and cfg.regularizer.kind == "wwae"
    assert cfg.data.path == "data/nesmdb" and cfg.model.kind == "conv1d" and cfg.data.onsets
    # the same model and the recipe of the bundled model's last training (its steps, batch and rate aside)
    assert bundled["model"] == load_config().to_dict()["model"]
    recipe = {("data", "transpose"), ("data", "swap_pulses"), ("optim", "schedule"), ("train", "ema"),
              ("train", "amp"), ("acai", "weight"), ("train", "note_weight"), ("train", "expression_weight")}
    assert {(s, k): bundled[s][k] for s, k in recipe} == {(s, k): cfg.to_dict()[s][k] for s, k in recipe}
    from nesinterp.cli import train

    assert next(p for p in train.params if p.name == "config_name").default == DEFAULT_CONFIG


def test_overrides_are_typed():
    cfg = load_config("tiny", ["train.steps=7", "optim.lr=1e-2", "acai.enabled=false",
                               "regularizer.kind=mmd_imq", "data.path=some/where"])
    assert cfg.train.steps == 7 and cfg.optim.lr == 0.01 and cfg.acai.enabled is False
    assert cfg.regularizer.kind == "mmd_imq" and cfg.data.path == "some/where"
    assert parse_override("acai.weight=0.25") == ("acai", "weight", 0.25)
    # YAML 1.1 reads "off" as false: a word setting takes it as the word
    assert load_config("nesmdb-v2", ["train.amp=off"]).train.amp == "off"


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


def test_a_folder_is_never_a_config(tmp_path, monkeypatch, cli):
    """`nesinterp prep nesmdb/` then `nesinterp train` in the same folder: the bundled nesmdb config, not
    the data folder; a file named like a bundled config is taken, and the command says which it took."""
    from nesinterp.config import config_choice, resolve_config_path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "nesmdb").mkdir()
    assert resolve_config_path("nesmdb").name == "nesmdb.yaml"
    assert "folder" in config_choice("nesmdb")
    (tmp_path / "other").mkdir()
    with pytest.raises(ConfigError, match="a folder, not a config file"):
        resolve_config_path("other")
    (tmp_path / "tiny").write_text("name: mine\ntrain:\n  steps: 1\n")
    assert resolve_config_path("tiny") == Path("tiny")
    assert "the file tiny, not the bundled tiny.yaml" in config_choice("tiny")
    assert config_choice("mnist") is None
    result = cli("train", "--config", "nesmdb", "--data", tmp_path / "no-data", cwd=tmp_path)
    assert result.returncode == 2 and "is a folder" in result.stderr and "unreadable config" not in result.stderr
