"""Beyond two songs: `nesinterp sample`, medleys (`blend A B C`), `nesinterp grid` and `nesinterp shift`,
their files, records and pages (checked in headless Chromium as the blend page is), the errors users
will hit, and the same verbs in the Python API."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nesinterp
from data_prep import read_score
from nesinterp.blending import BlendOptions
from nesinterp.examples import compose_dungeon, compose_overworld, example_path
from nesinterp.metrics.paths import listener_distance
from nesinterp.trained_model import TrainedModel

from .test_page import check_in_browser

A, B = str(example_path("overworld")), str(example_path("dungeon"))


@pytest.fixture(scope="module")
def model_dir(tiny_model):
    return tiny_model


@pytest.fixture(scope="module")
def windows():
    return np.asarray(compose_overworld().array[:64]), np.asarray(compose_dungeon().array[:64])


def one_line_error(r, text: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr and text in r.stderr, r.stderr


# --- medleys --------------------------------------------------------------------------------------

def test_medley_walks_every_leg_and_shares_its_songs(model_dir, tmp_path, cli, windows):
    out, pair = tmp_path / "medley", tmp_path / "pair"
    r = cli("blend", A, B, A, "--steps", "3", "-o", out, "--model", model_dir, "--no-wav")
    assert r.returncode == 0, r.stderr
    record = json.loads((out / "blend.json").read_text())
    assert list(record["inputs"]) == ["a", "b", "c"] and record["inputs"]["c"]["path"] == A
    steps = [t for t in record["tracks"] if t["role"] == "step"]
    assert [t["name"] for t in steps] == [f"step-{k:02d}-of-05" for k in range(5)]  # 2 legs x 2 + 1
    assert [t["leg"] for t in steps] == ["a-b", "a-b", "b-c", "b-c", "b-c"]
    assert [t["leg_t"] for t in steps] == [0.0, 0.5, 0.0, 0.5, 1.0]
    legs = record["metrics"]["legs"]
    assert len(legs) == 2 and all(0 <= leg["path"]["linearity_error"] <= 1 for leg in legs)
    assert len(record["metrics"]["steps"]) == 5 and set(record["metrics"]["inputs"]) == {"a", "b", "c"}
    assert read_score(out / "morph.mid").frames == 5 * 64 + 4 * 12
    # the first leg is the two-song blend; the walk comes back to A's own reconstruction
    assert cli("blend", A, B, "--steps", "3", "-o", pair, "--model", model_dir, "--no-wav",
               "--no-html").returncode == 0
    for k in range(3):
        assert read_score(out / f"step-{k:02d}-of-05.mid").same_music(read_score(pair / f"step-{k:02d}-of-03.mid"))
    assert read_score(out / "step-04-of-05.mid").same_music(read_score(out / "step-00-of-05.mid"))
    html = (out / "index.html").read_text()
    assert "overworld \u2192 dungeon \u2192 overworld" in html and "B \u2192 C" in html


def test_medley_api_and_errors(model_dir, tmp_path, cli, windows):
    model = TrainedModel.load(model_dir)
    wa, wb = windows
    walk = model.medley([wa, wb, wa], steps=4)
    assert walk.shape == (7, 64, 4, 3)
    assert np.array_equal(walk[:4], model.interpolate(wa, wb, 4)) and np.array_equal(walk[3], walk[3])
    songs = model.medley([compose_overworld(), compose_dungeon(), compose_overworld()], steps=2)
    assert len(songs) == 3 and songs[0].frames == compose_overworld().frames
    result = nesinterp.blend([A, B, A], tmp_path / "api", model=model,
                             options=BlendOptions(steps=2, wav=False, html=False, plot=False))
    assert len([t for t in result.record["tracks"] if t["role"] == "step"]) == 3
    with pytest.raises(ValueError, match="at least two songs"):
        model.medley([wa], steps=3)
    one_line_error(cli("blend", A, B, A, "--start", "1", "--start", "2", "-o", tmp_path / "x",
                       "--model", model_dir), "--start is given once")
    one_line_error(cli("blend", A, "-o", tmp_path / "x", "--model", model_dir), "at least two songs")


# --- sample ---------------------------------------------------------------------------------------

def test_sample_writes_scored_samples_and_keeps_its_seed(model_dir, tmp_path, cli):
    out = tmp_path / "s"
    r = cli("sample", "-n", "3", "-o", out, "--model", model_dir, "--seed", "4", "--no-html")
    assert r.returncode == 0, r.stderr
    record = json.loads((out / "sample.json").read_text())
    names = [f"sample-{k:02d}-of-03" for k in (1, 2, 3)]
    assert [s["name"] for s in record["samples"]] == names
    assert sorted(record["files"]) == sorted([f"{n}.{e}" for n in names for e in ("mid", "wav")] + ["sample.json"])
    assert all(0 <= s["realism"] <= 1 for s in record["samples"]) and record["realism"] is not None
    assert read_score(out / f"{names[0]}.mid").frames == 64
    again = tmp_path / "again"
    assert cli("sample", "-n", "3", "-o", again, "--model", model_dir, "--seed", "4", "--no-html",
               "--no-wav").returncode == 0
    assert (again / f"{names[1]}.mid").read_bytes() == (out / f"{names[1]}.mid").read_bytes()
    # a whole song: one code per window, decoded as one sequence, cut to the length asked
    model = TrainedModel.load(model_dir)
    songs = model.sample(2, seed=1, seconds=7.5)
    assert [s.frames for s in songs] == [180, 180] and not songs[0].same_music(songs[1])
    # nothing is overwritten without --force
    r = cli("sample", "-n", "3", "-o", out, "--model", model_dir, "--seed", "5", "--no-html")
    one_line_error(r, "--force")
    assert json.loads((out / "sample.json").read_text())["options"]["seed"] == 4
    r = cli("sample", "-n", "2", "-o", out, "--model", model_dir, "--seed", "5", "--no-html", "--force")
    assert r.returncode == 0 and not (out / "sample-03-of-03.mid").exists()  # the earlier run's files go


@pytest.mark.parametrize("args, message", [
    (["-n", "0"], "-n must be at least 1"),
    (["--seconds", "-2"], "--seconds must be above 0"),
    (["--temperature", "-1"], "--temperature"),
])
def test_sample_bad_input(model_dir, tmp_path, cli, args, message):
    one_line_error(cli("sample", *args, "-o", tmp_path / "x", "--model", model_dir), message)
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


# --- grid -----------------------------------------------------------------------------------------

def test_grid_blends_four_songs_on_a_board(model_dir, tmp_path, cli, windows):
    out = tmp_path / "g"
    r = cli("grid", A, B, B, A, "--size", "3", "-o", out, "--model", model_dir, "--no-wav", "--no-html")
    assert r.returncode == 0, r.stderr
    record = json.loads((out / "grid.json").read_text())
    cells = record["cells"]
    assert [(c["row"], c["col"]) for c in cells] == [(r, c) for r in range(3) for c in range(3)]
    assert cells[0]["weights"] == [1.0, 0.0, 0.0, 0.0] and cells[4]["weights"] == [0.25] * 4
    assert cells[0]["distance_to_corners"]["a"] == 0 and cells[2]["distance_to_corners"]["b"] == 0
    assert all(0 <= c["realism"] <= 1 for c in cells)
    # A = D and B = C: the middle row mixes them equally at every column
    middle = [read_score(out / f"cell-02-{c:02d}.mid") for c in (1, 2, 3)]
    assert middle[0].same_music(middle[1]) and middle[1].same_music(middle[2])
    model = TrainedModel.load(model_dir)
    wa, wb = windows
    board = model.grid(wa, wb, wb, wa, size=3)
    assert board.shape == (3, 3, 64, 4, 3)
    assert np.array_equal(board[0, 0], model.reconstruct(wa[None])[0])
    assert np.array_equal(board[0, 2], model.reconstruct(wb[None])[0])
    assert listener_distance(board[1, 1], board[0, 0]) > 0
    assert np.array_equal(read_score(out / "cell-01-01.mid").notes, board[0, 0][..., 0])


@pytest.mark.parametrize("songs, extra, message", [
    ([A, B, A], [], "four songs"),
    ([A, B, A, B], ["--size", "1"], "--size must be between 2 and 16"),
    ([A, B, A, "missing.mid"], [], "missing.mid"),
])
def test_grid_bad_input(model_dir, tmp_path, cli, songs, extra, message):
    one_line_error(cli("grid", *songs, *extra, "-o", tmp_path / "x", "--model", model_dir), message)


# --- pages ----------------------------------------------------------------------------------------

def test_sample_grid_and_medley_pages_in_a_real_browser(model_dir, tmp_path, cli, chromium):
    runs = [(["sample", "-n", "3"], "sample.json", 3),
            (["grid", A, B, A, B, "--size", "3"], "grid.json", 4 + 9),
            (["blend", A, B, A, "--steps", "3"], "blend.json", 6 + 5 + 1)]
    for args, record_name, players in runs:
        out = tmp_path / args[0]
        r = cli(*args, "-o", out, "--model", model_dir)
        assert r.returncode == 0, r.stderr
        seen = check_in_browser(out, chromium, tmp_path / f"profile-{args[0]}", None, record_name)
        assert len(seen["audio"]) == players


# --- attributes and shift -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_with_attributes(tiny_model, tmp_path_factory):
    """A copy of the small model with its attribute vectors, made by the command a user runs."""
    import shutil
    import subprocess

    from .conftest import nesinterp_command

    def cli(*args):
        return subprocess.run([*nesinterp_command(), *map(str, args)], capture_output=True, text=True, timeout=300)

    folder = tmp_path_factory.mktemp("attributes") / "model"
    shutil.copytree(tiny_model, folder, ignore=shutil.ignore_patterns("checkpoints", "samples"))
    r = cli("attributes", folder, "--windows", "64")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == str(folder / "attributes.json") and "pitch:" in r.stdout
    again = cli("attributes", folder, "--windows", "64")
    one_line_error(again, "--force")
    return folder


def test_shift_sweeps_an_attribute_and_measures_it(model_with_attributes, tmp_path, cli, chromium):
    out = tmp_path / "shift"
    r = cli("shift", A, "--attribute", "pitch=+2", "--steps", "5", "-o", out, "--model", model_with_attributes)
    assert r.returncode == 0, r.stderr
    record = json.loads((out / "shift.json").read_text())
    assert [s["amount"] for s in record["steps"]] == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert record["attribute"] == "pitch" and set(record["original_attributes"]) >= {"pitch", "density", "drums"}
    assert all(0 <= s["realism"] <= 1 and "pitch" in s["attributes"] for s in record["steps"])
    # amount 0 is the song's own reconstruction
    model = TrainedModel.load(model_with_attributes)
    window = np.asarray(compose_overworld().array[:64])
    assert np.array_equal(read_score(out / "step-02-of-05.mid").notes, model.reconstruct(window[None])[0][..., 0])
    sweep = model.shift(window, "pitch", [-2.0, 0.0, 2.0])
    assert sweep.shape == (3, 64, 4, 3) and np.array_equal(sweep[1], model.reconstruct(window[None])[0])
    seen = check_in_browser(out, chromium, tmp_path / "profile", None, "shift.json")
    assert len(seen["audio"]) == 1 + 5 and "#step-4" in seen["links"]


def test_shift_errors_are_one_line(model_dir, model_with_attributes, tmp_path, cli):
    one_line_error(cli("shift", A, "--attribute", "pitch=1", "-o", tmp_path / "x", "--model", model_dir),
                   "no attribute vectors for this model")
    one_line_error(cli("shift", A, "--attribute", "dens=1", "-o", tmp_path / "x", "--model", model_with_attributes),
                   "unknown attribute 'dens'")
    one_line_error(cli("shift", A, "--attribute", "pitch=0", "-o", tmp_path / "x", "--model", model_with_attributes),
                   "amount must be above 0")
    one_line_error(cli("shift", A, "--attribute", "pitch=1", "--steps", "1", "-o", tmp_path / "x",
                       "--model", model_with_attributes), "--steps must be at least 2")
    assert not (tmp_path / "x").exists()
