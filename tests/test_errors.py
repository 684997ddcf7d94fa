"""One base class for the errors users cause, and one place in the CLI that turns them into one line."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import shutil
from pathlib import Path

from click.testing import CliRunner

import data_prep
import nesinterp
from nesinterp import cli
from nesinterp.errors import NesinterpError
from nesinterp.score import ScoreError

ROOT = Path(__file__).resolve().parents[1]


def project_error_classes() -> dict[str, type]:
    found = {}
    for package in (nesinterp, data_prep):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            for name, obj in vars(module).items():
                if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == info.name:
                    found[f"{info.name}.{name}"] = obj
    return found


def test_every_error_the_project_defines_derives_from_one_base():
    from nesinterp.io.readers import ReadError
    from nesinterp.config import ConfigError
    from nesinterp.evaluate import EvalError
    from nesinterp.train import TrainError

    errors = project_error_classes()
    assert {ConfigError, EvalError, ReadError, TrainError} <= set(errors.values())
    presentation = {"nesinterp.cli_common.UserError"}  # the CLI's one-line output of them, not an error kind
    strays = [name for name, cls in errors.items() if name not in presentation and not issubclass(cls, NesinterpError)]
    assert not strays, f"not a NesinterpError: {strays}"
    assert issubclass(NesinterpError, ValueError)  # what every one of them was before


def test_any_user_error_from_any_command_is_one_line_and_exit_2(monkeypatch, tmp_path):
    import nesinterp.render

    def fail(*args, **kwargs):
        raise ScoreError("a message\nover two lines")  # not among what render caught before

    monkeypatch.setattr(nesinterp.render, "render_files", fail)
    result = CliRunner().invoke(cli.main, ["render", "x.mid", "-o", str(tmp_path / "x.wav")])
    assert result.exit_code == 2 and result.stderr == "nesinterp: error: a message over two lines\n"

    def missing(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", "x.mid")

    monkeypatch.setattr(nesinterp.render, "render_files", missing)
    result = CliRunner().invoke(cli.main, ["render", "x.mid", "-o", str(tmp_path / "x.wav")])
    assert result.exit_code == 2 and result.stderr == "nesinterp: error: x.mid: No such file or directory\n"


def test_eval_of_a_model_with_a_bad_config_is_one_line(cli, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    shutil.copy(ROOT / "nesinterp" / "pretrained" / "model.safetensors", model)
    meta = json.loads((ROOT / "nesinterp" / "pretrained" / "model.json").read_text())
    meta["config"]["train"]["batch"] = 1
    (model / "model.json").write_text(json.dumps(meta))
    result = cli("eval", model)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("nesinterp: error: ") and "train.batch" in result.stderr
    assert str(model / "model.json") in result.stderr  # names the file at fault
    del meta["config"]
    (model / "model.json").write_text(json.dumps(meta))
    result = cli("eval", model)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "no 'config' entry" in result.stderr and "Traceback" not in result.stderr


def test_errors_module_and_data_prep_stay_free_of_torch():
    import subprocess
    import sys

    code = ("import sys, pkgutil, importlib, data_prep, nesinterp.errors\n"
            "for info in pkgutil.walk_packages(data_prep.__path__, 'data_prep.'): importlib.import_module(info.name)\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
