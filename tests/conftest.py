"""Shared fixtures: where the real data lives, and the console script to test through.

Real data (NES-MDB archives, MIDI samples, MNIST) is read in place from ``../shared/data`` beside the
project, or from ``$NESINTERP_SHARED_DATA``. Tests that need it skip with the reason when it is absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return Path(os.environ.get("NESINTERP_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _require(relative: str) -> Path:
    path = shared_data_dir() / relative
    if not path.exists():
        pytest.skip(f"real data {relative} not found under {shared_data_dir()} "
                    "(set NESINTERP_SHARED_DATA to the folder holding NES-MDB and MNIST)")
    return path


@pytest.fixture(scope="session")
def exprsco_archive() -> Path:
    return _require("nesmdb/nesmdb24_exprsco.tar.gz")


@pytest.fixture(scope="session")
def seprsco_archive() -> Path:
    return _require("nesmdb/nesmdb24_seprsco.tar.gz")


@pytest.fixture(scope="session")
def midi_samples() -> list[Path]:
    folder = _require("nesmdb-midi-samples")
    files = sorted(folder.glob("*.mid"))
    if not files:
        pytest.skip(f"no .mid files in {folder}")
    return files


def read_archive_members(archive: Path, want) -> dict[str, bytes]:
    """Bytes of the archive members whose name satisfies ``want(name)``, streamed."""
    out = {}
    with tarfile.open(archive, "r|gz") as tf:
        for member in tf:
            if member.isfile() and want(member.name):
                out[member.name] = tf.extractfile(member).read()
    return out


@pytest.fixture(scope="session")
def exprsco_valid(exprsco_archive) -> dict:
    """Every song of the exprsco archive's valid split, as Scores keyed by song name."""
    from nesinterp.io.pickles import score_from_pickle_bytes, song_name

    members = read_archive_members(exprsco_archive, lambda n: "/valid/" in n)
    return {
        song_name(Path(n).name): score_from_pickle_bytes(d, song_name(Path(n).name), n)
        for n, d in members.items()
    }


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """The bundled example songs as a prepared dataset (no data from ../shared needed); read only."""
    from data_prep.prep import PrepOptions, run_prep

    out = tmp_path_factory.mktemp("data") / "tiny"
    run_prep([str(ROOT / "nesinterp" / "examples")], out, PrepOptions())
    return out


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """Run dir of a small music model trained for a few seconds on the bundled example songs."""
    from data_prep.prep import PrepOptions, run_prep
    from nesinterp.config import load_config
    from nesinterp.train import train

    root = tmp_path_factory.mktemp("tiny-model")
    run_prep([str(ROOT / "nesinterp" / "examples")], root / "data", PrepOptions())
    cfg = load_config("tiny", [f"data.path={root / 'data'}", "train.steps=40", "train.log_every=20",
                               "train.checkpoint_every=40", "train.sample_every=1000"])
    train(cfg, root / "run", progress=False)
    return root / "run"


def nesinterp_command() -> list[str]:
    exe = Path(sys.executable).parent / "nesinterp"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("nesinterp")
    if found:
        return [found]
    pytest.skip("the nesinterp console script is not installed (pip install -e .)")


@pytest.fixture
def cli():
    """Run the real console script; returns the CompletedProcess (text mode)."""

    def run(*args, cwd=None, timeout=300, env=None):
        return subprocess.run([*nesinterp_command(), *map(str, args)], capture_output=True, text=True,
                              cwd=cwd, timeout=timeout, env=env, stdin=subprocess.DEVNULL)

    return run


@pytest.fixture(scope="session")
def chromium() -> str:
    """A headless Chromium for the pages' tests (``tests/browser.py``)."""
    from .browser import find_chromium

    found = find_chromium()
    if not found:
        pytest.skip("no chromium on PATH: `make test` installs it (apt-get install chromium)")
    return found
