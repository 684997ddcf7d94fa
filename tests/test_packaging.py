"""The package as a user installs it: a wheel built from this checkout, installed into a fresh virtual
environment, runs the README's commands from a folder outside the repository (bundled configs, bundled
model, example songs). No network at test time: the fresh environment borrows the already installed
dependencies (torch, numpy, ...) through a .pth file, while nesinterp itself comes only from the wheel."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_is_shipped():
    listed = set(pyproject()["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("nesinterp", "data_prep")
             for p in (ROOT / top).rglob("__init__.py")}
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"
    assert pyproject()["tool"]["setuptools"]["package-dir"]["nesinterp.configs"] == "configs"


def test_every_declared_dependency_is_used_by_the_package():
    import re

    imports = {"numpy": "numpy", "scipy": "scipy", "pretty_midi": "pretty_midi", "music21": "music21",
               "click": "click", "tqdm": "tqdm", "pyyaml": "yaml", "safetensors": "safetensors",
               "matplotlib": "matplotlib", "torch": "torch"}
    source = "\n".join(p.read_text() for top in ("nesinterp", "data_prep") for p in (ROOT / top).rglob("*.py"))
    for requirement in pyproject()["project"]["dependencies"]:
        name = re.split(r"[<>=!~ ]", requirement)[0]
        module = imports.get(name)
        assert module, f"{name}: say which module it provides in this test"
        assert re.search(rf"^\s*(import|from) {module}\b", source, re.M), f"{name} is declared but never imported"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh virtual environment holding only the wheel of this checkout (plus borrowed deps)."""
    root = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(root / "dist")], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((root / "dist").glob("nesinterp-*.whl"))
    env = root / "env"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # The deps of this environment, but not its editable nesinterp: a path line in a .pth file adds the
    # folder without running the .pth files inside it (where the editable install's finder is).
    (Path(site) / "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    return env / "bin"


def test_the_wheel_runs_the_readme_commands_outside_the_repository(installed, tmp_path):
    def run(*args, **kw):
        r = subprocess.run([str(installed / "nesinterp"), *map(str, args)], capture_output=True, text=True,
                           cwd=tmp_path, timeout=300, stdin=subprocess.DEVNULL, **kw)
        assert r.returncode == 0, f"{args}: {r.stderr[-2000:]}"
        return r

    where = subprocess.run([str(installed / "python"), "-c", "import nesinterp, pathlib; "
                            "print(pathlib.Path(nesinterp.__file__).parent)"],
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout.strip()
    package = Path(where)
    assert ROOT not in package.parents, "nesinterp came from the checkout, not the wheel"
    examples = package / "examples"
    run("prep", examples, "-o", "data/tiny", "-q")
    assert "step 3" in run("train", "--config", "tiny", "--set", "train.steps=3", "-q").stdout
    assert "step 1" in run("train", "--config", "nesmdb", "--data", "data/tiny", "--set", "train.steps=1",
                           "--set", "train.batch=4", "-q").stdout
    run("blend", examples / "overworld.mid", examples / "dungeon.mid", "--steps", "3", "-o", "out", "--no-wav")
    assert (tmp_path / "out" / "blend.json").exists()
