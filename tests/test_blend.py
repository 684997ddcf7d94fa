"""`nesinterp blend` and TrainedModel: behaviour, outputs, and the errors users will hit."""

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import wave
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from data_prep import read_score
from nesinterp.io.nesmdb_midi import nesmdb_midi_bytes
from nesinterp.blending import BlendError, BlendOptions, blend_files, choose_window, step_name
from nesinterp.examples import compose_dungeon, compose_overworld, example_path
from nesinterp.trained_model import PRETRAINED, TrainedModel, export_model, slerp
from nesinterp.score import Score

from .conftest import nesinterp_command

A, B = str(example_path("overworld")), str(example_path("dungeon"))


def read_wav(data: bytes):
    import io

    with wave.open(io.BytesIO(data)) as w:
        return w.getparams(), np.frombuffer(w.readframes(w.getnframes()), "<i2")


@pytest.fixture(scope="module")
def model_dir(tiny_model):
    return tiny_model


def test_trained_model_round_trip_and_interpolation(model_dir):
    model = TrainedModel.load(model_dir)
    assert model.window == 64 and model.latent_dim == 16
    wa = np.asarray(compose_overworld().array[:64])
    wb = np.asarray(compose_dungeon().array[:64])
    path = model.interpolate(wa, wb, 5, "lerp")
    assert path.shape == (5, 64, 4, 3)
    assert np.array_equal(path[0], model.reconstruct(wa[None])[0])  # step 0 decodes A's code
    assert np.array_equal(path[-1], model.reconstruct(wb[None])[0])
    for window in path:
        Score(window)  # every step is a valid Score
    stacked = model.interpolate(np.stack([wa, wb]), np.stack([wb, wa]), 3)
    assert stacked.shape == (3, 2, 64, 4, 3)
    heard = model.as_heard(wa[None])[0]
    assert np.array_equal(heard[..., 0], wa[..., 0])
    with pytest.raises(ValueError, match="at least 2"):
        model.interpolate(wa, wb, 1)


def test_slerp_keeps_endpoints_and_norm_on_equal_norms():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    path = slerp(a, b, torch.linspace(0, 1, 5))
    assert torch.allclose(path[0], a) and torch.allclose(path[-1], b)
    assert torch.allclose(path.norm(dim=1), torch.ones(5), atol=1e-6)
    assert torch.allclose(slerp(a, a, torch.tensor([0.3]))[0], a)


def test_blend_writes_every_file(model_dir, tmp_path, cli):
    out = tmp_path / "out"
    r = cli("blend", A, B, "--steps", "8", "-o", out, "--model", model_dir)
    assert r.returncode == 0, r.stderr
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    steps = [f"step-{k:02d}-of-08" for k in range(8)]
    tracks = ["a-original", "a", "b-original", "b"] + steps
    expected = sorted([f"{s}.{e}" for s in tracks + ["morph"] for e in ("mid", "wav")]
                      + [f"pictures/{s}-{p}.png" for s in tracks for p in ("roll", "spectrogram")]
                      + ["piano-rolls.png", "index.html", "blend.json"])
    assert names == expected
    record = json.loads((out / "blend.json").read_text())
    assert sorted(record["files"]) == expected and r.stdout.split() == [str(out / f) for f in record["files"]]
    assert [t["name"] for t in record["tracks"]] == tracks + ["morph"]
    assert record["inputs"]["a"]["start_s"] == 0.0 and record["model"]["latent_dim"] == 16
    assert len(record["metrics"]["endpoint_distance_a"]) == 8
    # the model carries its training corpus's realism reference, so every step is judged against it
    steps_scored = record["metrics"]["steps"]
    assert len(steps_scored) == 8 and 0 <= record["metrics"]["realism"] <= 1
    path = record["metrics"]["path"]  # the listener-distance path scores
    assert set(path) == {"linearity_error", "backward_movement", "first_step_share", "last_step_share",
                         "worst_step_typicality"}
    assert 0 <= path["linearity_error"] <= 1 and path["backward_movement"] >= 0
    assert path["worst_step_typicality"] == min(s["realism"] for s in steps_scored[1:-1])
    assert all(0 <= s["realism"] <= 1 and set(s["onsets_per_window"]) == {"P1", "P2", "TR", "NO"}
               and set(s["sounding_share"]) == {"P1", "P2", "TR", "NO"} and isinstance(s["warnings"], list)
               for s in steps_scored)
    assert record["metrics"]["reconstruction_a"]["P1"]["onset_f1_tol1"] is not None
    # every warning of a step is also in the record's list, and printed
    for k, s in enumerate(steps_scored):
        for w in s["warnings"]:
            assert f"step-{k:02d}-of-08: {w}" in record["warnings"] and w in r.stderr
    assert 0 <= record["metrics"]["pitch_class_morph"] <= 1
    assert record["options"]["steps"] == 8 and record["options"]["mode"] == "slerp"
    step0 = read_score(out / "step-00-of-08.mid")
    assert step0.frames == 64
    morph = read_score(out / "morph.mid")
    assert morph.frames == 8 * 64 + 7 * 12
    a_heard, a_original = read_score(out / "a.mid"), read_score(out / "a-original.mid")
    assert np.array_equal(a_heard.notes, np.asarray(compose_overworld().notes[:64]))
    assert np.array_equal(a_original.array, np.asarray(compose_overworld().array[:64]))  # volumes kept
    assert (out / "step-00-of-08.wav").stat().st_size == 44 + 2 * (64 * 44100 // 24)
    # morph.wav: the steps' own WAVs in a row, half a second of silence between them
    _, morph_samples = read_wav((out / "morph.wav").read_bytes())
    step_samples = [read_wav((out / f"{s}.wav").read_bytes())[1] for s in steps]
    gap = np.zeros(44100 // 2, np.int16)
    assert np.array_equal(morph_samples, np.concatenate([x for s in step_samples for x in (s, gap)][:-1]))
    # the inputs are scored like the steps, for the page to show beside them
    assert set(record["metrics"]["inputs"]) == {"a", "b"} and record["metrics"]["inputs"]["a"]["realism"] > 0
    assert all(line.startswith("nesinterp: warning: ") for line in r.stderr.splitlines())  # no bar off a terminal
    # piano-rolls.png: A, the 8 steps and B side by side under their titles, drawn without matplotlib
    from nesinterp.pictures import overview_image, png_bytes

    shown = [a_original] + [read_score(out / f"{s}.mid") for s in steps] + [read_score(out / "b-original.mid")]
    titles = ["A"] + [f"Step {k}" for k in range(8)] + ["B"]
    assert (out / "piano-rolls.png").read_bytes() == png_bytes(overview_image(shown, titles))


def test_blend_of_a_song_with_itself_is_strict_json_and_says_so(model_dir, tmp_path, cli):
    out = tmp_path / "same"
    r = cli("blend", A, A, "--steps", "4", "-o", out, "--model", model_dir, "--no-wav", "--no-plot")
    assert r.returncode == 0, r.stderr
    record = json.loads((out / "blend.json").read_text(), parse_constant=_refuse_constant)  # strict JSON
    assert record["warnings"][0].startswith("A and B are the same window")
    assert "A and B are the same window" in r.stderr
    metrics = record["metrics"]
    if metrics["step_smoothness"] is None:  # endpoints decoded equal: no change to spread
        assert "endpoints are equal" in metrics["step_smoothness_reason"]


def _refuse_constant(name):
    raise ValueError(f"not strict JSON: {name}")


def test_existing_files_need_force_and_force_replaces(model_dir, tmp_path, cli):
    out = tmp_path / "out"
    assert cli("blend", A, B, "-o", out, "--model", model_dir, "--steps", "2").returncode == 0
    before = (out / "blend.json").read_text()
    r = cli("blend", B, A, "-o", out, "--model", model_dir, "--steps", "2")
    assert r.returncode == 2 and "--force" in r.stderr and (out / "blend.json").read_text() == before
    r = cli("blend", B, A, "-o", out, "--model", model_dir, "--steps", "2", "--force")
    assert r.returncode == 0 and json.loads((out / "blend.json").read_text())["inputs"]["a"]["path"] == B


def test_force_removes_the_earlier_blends_files_and_nothing_else(model_dir, tmp_path, cli):
    out = tmp_path / "out"

    def blend(*args):
        r = cli("blend", A, B, "-o", out, "--model", model_dir, "--no-wav", "--no-plot", *args)
        assert r.returncode == 0, r.stderr
        return r

    blend("--steps", "8")
    (out / "notes.txt").write_text("mine")  # the user's own file
    r = blend("--steps", "3", "--force", "--no-html")
    record = json.loads((out / "blend.json").read_text())
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert left == sorted(record["files"] + ["notes.txt"])
    # 8 step MIDIs, 12 piano-roll pictures and index.html; their folder went with them
    assert "removed 21 files of the earlier blend" in r.stderr and not (out / "pictures").exists()
    blend("--steps", "3", "--force")
    (out / "pictures" / "mine.png").write_bytes(b"mine")  # a file of the user's in the blend's folder
    blend("--steps", "2", "--force", "--no-html")
    assert [p.name for p in (out / "pictures").iterdir()] == ["mine.png"] and (out / "notes.txt").exists()


def test_force_follows_only_plain_names_of_a_blend_record(model_dir, tmp_path, cli):
    out, outside = tmp_path / "out", tmp_path / "outside.txt"
    out.mkdir()
    outside.write_text("keep")
    (out / "keep.mid").write_text("keep")
    record = {"tool": "nesinterp blend", "files": ["../outside.txt", str(outside), "./keep.mid", "a/../keep.mid"]}
    (out / "blend.json").write_text(json.dumps(record))
    r = cli("blend", A, B, "-o", out, "--model", model_dir, "--steps", "2", "--force", "--no-wav", "--no-html")
    assert r.returncode == 0 and outside.exists() and (out / "keep.mid").exists() and "removed" not in r.stderr
    (out / "blend.json").write_text(json.dumps({"tool": "something else", "files": ["keep.mid"]}))
    assert cli("blend", A, B, "-o", out, "--model", model_dir, "--steps", "2", "--force", "--no-wav",
               "--no-html").returncode == 0
    assert (out / "keep.mid").exists()


def run_on_a_terminal(args, env_extra: dict, tmp_path) -> tuple[int, str, str, int]:
    """The console script with stderr on a pseudo-terminal: (status, stdout, terminal output, peak
    resident memory in kB), the memory measured by a parent process that runs only this command."""
    measure = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stdout); sys.exit(code)")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a 120-column terminal
    stdout = tmp_path / "stdout.txt"
    with open(stdout, "w") as f:
        proc = subprocess.Popen([sys.executable, "-c", measure, *nesinterp_command(), *map(str, args)], stdout=f,
                                stderr=slave, stdin=subprocess.DEVNULL, env={**os.environ, **env_extra})
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # the terminal closes when both processes have ended
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = proc.wait(300)
    lines = stdout.read_text().splitlines()
    return code, "\n".join(lines[:-1]), b"".join(chunks).decode(errors="replace"), int(lines[-1])


def test_many_steps_stream_to_disk_with_progress_and_sorted_names(model_dir, tmp_path):
    assert step_name(7, 500) == "step-007-of-500" and step_name(0, 8) == "step-00-of-08"
    assert step_name(99, 100) == "step-099-of-100" and step_name(3, 1000) == "step-0003-of-1000"
    # A short blend on a terminal shows no bar (TQDM_DELAY stands in for "took more than 2 s")
    code, _, terminal, small = run_on_a_terminal(
        ["blend", A, B, "--steps", "8", "-o", tmp_path / "few", "--model", model_dir, "--no-plot"],
        {"TQDM_DELAY": "600"}, tmp_path)
    assert code == 0 and "writing" not in terminal
    code, stdout, terminal, large = run_on_a_terminal(
        ["blend", A, B, "--steps", "120", "-o", tmp_path / "many", "--model", model_dir, "--no-plot"],
        {"TQDM_DELAY": "0"}, tmp_path)
    assert code == 0, terminal
    assert "writing:" in terminal and "/124" in terminal  # 4 input tracks + 120 steps
    steps = [line.rsplit("/", 1)[1] for line in stdout.splitlines() if "/step-" in line and line.endswith(".wav")]
    assert steps == sorted(steps) == [f"step-{k:03d}-of-120.wav" for k in range(120)]
    # Memory does not grow with the steps: each step's audio is written and dropped (the old code held
    # the whole morph's audio, several MB per step, at once).
    assert large - small < 120_000, (small, large)
    with wave.open(str(tmp_path / "many" / "morph.wav")) as w:
        assert w.getnframes() == 120 * 64 * 44100 // 24 + 119 * 44100 // 2


def test_error_mid_way_leaves_no_partial_files(model_dir, tmp_path, monkeypatch):
    import nesinterp.render as render

    calls = {"n": 0}
    real = render.write_wav_samples

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(render, "write_wav_samples", failing)
    out = tmp_path / "out"
    with pytest.raises(OSError):
        blend_files(A, B, out, str(model_dir), BlendOptions(steps=4))
    assert not out.exists() or os.listdir(out) == []


def test_start_whole_lerp_and_sampling(model_dir, tmp_path):
    model = TrainedModel.load(model_dir)
    r = blend_files(A, B, tmp_path / "s", model, BlendOptions(steps=3, start_a=4.0, start_b=8.0, wav=False, plot=False))
    assert r.record["inputs"]["a"]["start_s"] == 4.0 and r.record["inputs"]["b"]["start_s"] == 8.0
    r = blend_files(A, B, tmp_path / "w", model, BlendOptions(steps=3, whole=True, wav=False, plot=False))
    assert read_score(tmp_path / "w" / "step-01-of-03.mid").frames == 384  # 16 s = 6 windows of 64 frames
    one = blend_files(A, B, tmp_path / "t1", model, BlendOptions(steps=3, temperature=1.0, seed=7, wav=False, plot=False))
    blend_files(A, B, tmp_path / "t2", model, BlendOptions(steps=3, temperature=1.0, seed=7, wav=False, plot=False))
    assert (tmp_path / "t1" / "morph.mid").read_bytes() == (tmp_path / "t2" / "morph.mid").read_bytes()
    blend_files(A, B, tmp_path / "l", model, BlendOptions(steps=3, mode="lerp", wav=False, plot=False))
    assert one.record["options"]["temperature"] == 1.0


def test_default_window_skips_a_silent_intro():
    a = np.zeros((24 * 10, 4, 3), np.uint8)
    a[24 * 4:, 0] = (60, 9, 2)
    window, first = choose_window(Score(a), 64, None, "x")
    assert first == 24 * 4 and window[:, 0, 0].all()
    with pytest.raises(BlendError, match="has no notes"):
        choose_window(Score(a), 64, 0.5, "x")
    with pytest.raises(BlendError, match="outside the song"):
        choose_window(Score(a), 64, 60.0, "x")


@pytest.fixture
def bad_inputs(tmp_path):
    (tmp_path / "text.mid").write_text("this is not MIDI")
    silent = Score.empty(100)
    (tmp_path / "silent.mid").write_bytes(nesmdb_midi_bytes(silent))
    (tmp_path / "file").write_text("x")
    tail = np.zeros((24 * 12, 4, 3), np.uint8)
    tail[:48, 0] = (64, 10, 2)  # two seconds of music, then ten of silence
    (tmp_path / "short.mid").write_bytes(nesmdb_midi_bytes(Score(tail)))
    return tmp_path


@pytest.mark.parametrize("args, message", [
    (["missing.mid", B], "no such file"),
    (["text.mid", B], "not a MIDI file"),
    (["silent.mid", B], "no notes"),
    (["short.mid", B, "--start", "6"], "has no notes"),
    ([A, B, "--refine", "-1"], "--refine"),
    ([A, B, "--steps", "1"], "--steps must be at least 2"),
    ([A, B, "-o", "file"], "is a file"),
    ([A, B, "--start", "1", "--start", "2", "--start", "3"], "--start is given once"),
])
def test_user_errors_exit_2_with_one_line(args, message, bad_inputs, model_dir, cli):
    args = [str(bad_inputs / a) if a in ("missing.mid", "text.mid", "silent.mid", "short.mid", "file") else a for a in args]
    if "-o" not in args:
        args += ["-o", str(bad_inputs / "out")]
    r = cli("blend", *args, "--model", model_dir)
    assert r.returncode == 2, r.stdout
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (bad_inputs / "out").exists() or not os.listdir(bad_inputs / "out")


def test_foreign_and_incompatible_models_are_refused(model_dir, tmp_path, cli):
    pickle_model = tmp_path / "pickle"
    pickle_model.mkdir()
    torch.save({"w": torch.zeros(2)}, pickle_model / "model.safetensors")
    (pickle_model / "model.json").write_text((model_dir / "model.json").read_text())
    other = tmp_path / "other"
    other.mkdir()
    save_file({"w": torch.zeros(2)}, str(other / "model.safetensors"))
    (other / "model.json").write_text((model_dir / "model.json").read_text())
    shapes = tmp_path / "shapes"
    export_model(model_dir, shapes)
    meta = json.loads((shapes / "model.json").read_text())
    meta["config"]["model"]["latent_dim"] = 32
    (shapes / "model.json").write_text(json.dumps(meta))
    notours = tmp_path / "notours.json"
    notours.write_text('{"hello": 1}')
    for model, message in [(pickle_model, "torch pickle"), (other, "not weights of this model"),
                           (shapes, "incompatible shapes"), (notours, "not a nesinterp model"),
                           (tmp_path / "nothing", "no such model")]:
        r = cli("blend", A, B, "-o", tmp_path / "out", "--model", model)
        assert r.returncode == 2, (model, r.stderr)
        assert message in r.stderr and "Traceback" not in r.stderr, (model, r.stderr)


def test_exported_half_precision_model_decodes_like_the_original(model_dir, tmp_path):
    small = export_model(model_dir, tmp_path / "half")
    assert (small / "model.safetensors").stat().st_size < (model_dir / "model.safetensors").stat().st_size
    a, b = TrainedModel.load(model_dir), TrainedModel.load(small)
    w = np.stack([np.asarray(compose_overworld().array[:64]), np.asarray(compose_dungeon().array[:64])])
    agree = np.mean(a.reconstruct(w)[..., 0] == b.reconstruct(w)[..., 0])
    assert agree > 0.99


def test_bundled_model_is_present_and_loads():
    if not (PRETRAINED / "model.safetensors").exists():
        pytest.skip("no bundled model in nesinterp/pretrained yet")
    model = TrainedModel.load()
    assert model.meta["data"]["train_songs"] > 3500  # NES-MDB's train split (songs >= 128 frames), not a toy
    assert model.meta["config"]["name"] == "nesmdb-v2" and model.window == 128
    assert model.representation.onsets and model.representation.expressive
    assert (PRETRAINED / "model.safetensors").stat().st_size < 5_000_000
    w = np.stack([np.asarray(compose_overworld().array[:128]), np.asarray(compose_dungeon().array[:128])])
    assert np.mean(model.reconstruct(w)[..., 0] == w[..., 0]) > 0.6
    # an expressive model with onsets hears its input exactly, whatever thresholds and biases its decoder
    # was calibrated with (thresholds below 0.5 once re-attacked every frame of "a as the model hears it")
    assert np.array_equal(model.as_heard(w), w)
    calibrated = model.representation
    model.representation = replace(calibrated, onset_threshold=(0.1,) * 4, sounding_bias=(3.0,) * 4,
                                   volume_tilt=(0.5,) * 4)
    try:
        assert np.array_equal(model.as_heard(w), w)
    finally:
        model.representation = calibrated
