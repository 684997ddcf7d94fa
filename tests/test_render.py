"""WAV, MIDI and piano-roll output, `render_files`, the real valid split, and `nesinterp render`."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from nesinterp.io.pickles import write_score_pickle
from nesinterp.io.readers import read_score
from nesinterp import synth
from nesinterp.render import (
    RenderError, pcm16, plot_piano_roll, render_files, render_midi, render_wav, wav_bytes,
)
from nesinterp.score import Score, Voice


def song(frames: int = 48, velocity: int = 12) -> Score:
    a = np.zeros((frames, 4, 3), np.uint8)
    a[:, Voice.P1] = (64, velocity, 2)
    a[: frames // 2, Voice.P2] = (60, velocity, 1)
    a[:, Voice.TR, 0] = 40
    a[::4, Voice.NO] = (10, velocity, 0)
    return Score(a, "song")


def read_wav(data: bytes) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(io.BytesIO(data), "rb") as w:
        return w.getparams(), np.frombuffer(w.readframes(w.getnframes()), "<i2")


def test_wav_is_mono_16_bit_with_exact_length_and_fixed_scale():
    score = song()
    params, samples = read_wav(wav_bytes(score, 44100))
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 44100)
    assert params.nframes == score.frames * 44100 // 24
    assert np.array_equal(samples, pcm16(synth.render_audio(score, 44100)))
    assert wav_bytes(score) == wav_bytes(score)  # deterministic to the byte
    _, other_rate = read_wav(wav_bytes(score, 22050))
    assert len(other_rate) == score.frames * 22050 // 24
    # Loudness is not normalised away: a quieter score gives a quieter WAV.
    _, quiet = read_wav(wav_bytes(song(velocity=3)))
    assert np.sqrt(np.mean(quiet.astype(float) ** 2)) < 0.5 * np.sqrt(np.mean(samples.astype(float) ** 2))


def test_normalize_raises_the_peak_to_full_scale():
    _, samples = read_wav(wav_bytes(song(velocity=3), normalize=True))
    assert np.abs(samples.astype(int)).max() == 32767
    _, silent = read_wav(wav_bytes(Score.empty(24), normalize=True))
    assert not silent.any()


def test_render_wav_midi_and_plot_files(tmp_path):
    score = song()
    wav_path = render_wav(score, tmp_path / "a.wav")
    assert read_wav(wav_path.read_bytes())[1].size == score.frames * 44100 // 24
    with pytest.raises(RenderError, match="exists"):
        render_wav(score, wav_path, force=False)
    midi_path = render_midi(score, tmp_path / "a.mid")
    assert read_score(midi_path).same_music(score)  # NES-MDB MIDI round trip, for any other synth
    png = plot_piano_roll([score, song(velocity=3)], tmp_path / "roll.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.part"))


def test_seprsco_renders_with_velocity_15_and_duty_12_5(tmp_path):
    score = song()
    write_score_pickle(score, tmp_path / "s.seprsco.pkl", kind="seprsco")
    (out,) = render_files([tmp_path / "s.seprsco.pkl"], tmp_path / "s.wav")
    expected = Score.from_notes(np.ascontiguousarray(score.notes))
    assert expected.velocities[:, Voice.P1].max() == 15 and not expected.timbres.any()
    assert read_wav(out.read_bytes())[1].tobytes() == pcm16(synth.render_audio(expected)).tobytes()


def test_render_files_outputs_and_refusals(tmp_path):
    a, b = tmp_path / "a.exprsco.pkl", tmp_path / "b.exprsco.pkl"
    write_score_pickle(song(), a)
    write_score_pickle(song(velocity=5), b)
    out = render_files([a, b], tmp_path / "out", plot=True, sample_rate=22050)
    assert [p.name for p in out] == ["a.wav", "a.png", "b.wav", "b.png"]  # every file written, in order
    assert all(p.exists() for p in out)
    assert read_wav(out[0].read_bytes())[0].framerate == 22050
    before = out[0].read_bytes()
    with pytest.raises(RenderError, match="a.wav exists .*--force"):
        render_files([a], tmp_path / "out")
    assert render_files([a], tmp_path / "out", force=True, sample_rate=22050) == [out[0]]
    assert out[0].read_bytes() == before
    with pytest.raises(RenderError, match="one .wav file cannot hold 2"):
        render_files([a, b], tmp_path / "x.wav")
    with pytest.raises(RenderError, match="would overwrite"):
        render_files([a, a], tmp_path / "dup")
    # A bad input fails before anything is written: no folder, no partial WAV.
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi")
    with pytest.raises(RenderError, match=r"bad\.mid: "):
        render_files([a, bad], tmp_path / "never")
    assert not (tmp_path / "never").exists()
    with pytest.raises(RenderError, match="missing.mid: no such file"):
        render_files([tmp_path / "missing.mid"], tmp_path / "never")
    with pytest.raises(RenderError, match="sample rate"):
        render_files([a], tmp_path / "never", sample_rate=100)
    assert not list(tmp_path.rglob("*.part"))


def test_lawnmower_sample_sounds_like_a_song(midi_samples, tmp_path):
    path = next(p for p in midi_samples if "01_02Game" in p.name)
    score = read_score(path)
    audio = synth.render_audio(score)
    assert len(audio) == score.frames * 44100 // 24
    assert np.all(np.isfinite(audio))
    peak, rms = np.abs(audio).max(), np.sqrt(np.mean(audio.astype(float) ** 2))
    assert 0.1 < peak < 1.0 and 0.01 < rms < peak / 3


def test_every_song_of_the_valid_split_renders(exprsco_valid):
    """All 403 valid songs (3.1 h of music) at 8 kHz to keep the test quick; the synthesis path is the
    same at every rate. Duration = frames / 24, finite, within full scale."""
    assert len(exprsco_valid) == 403
    rate = 8000
    for name, score in exprsco_valid.items():
        audio = synth.render_audio(score, rate)
        assert len(audio) == score.frames * rate // 24, name
        assert abs(len(audio) / rate - score.frames / 24) < 1 / rate, name
        assert np.all(np.isfinite(audio)) and np.abs(audio).max(initial=0) < 1.0, name


# --- the console script -----------------------------------------------------------------------------

def test_cli_renders_a_sample(cli, midi_samples, tmp_path):
    path = midi_samples[0]
    result = cli("render", path, "-o", tmp_path / "out", "--plot", "--rate", "22050")
    assert result.returncode == 0, result.stderr
    wav_path = tmp_path / "out" / (path.stem + ".wav")
    assert result.stdout.splitlines() == [str(wav_path), str(wav_path.with_suffix(".png"))]  # every file it writes
    params, samples = read_wav(wav_path.read_bytes())
    assert params.framerate == 22050 and params.nframes == read_score(path).frames * 22050 // 24
    assert np.abs(samples.astype(int)).max() > 1000
    assert (tmp_path / "out" / (path.stem + ".png")).exists()


def test_cli_refuses_to_overwrite_without_force(cli, tmp_path):
    src = tmp_path / "a.exprsco.pkl"
    write_score_pickle(song(), src)
    target = tmp_path / "a.wav"
    target.write_bytes(b"keep me")
    result = cli("render", src, "-o", target)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "--force" in result.stderr
    assert target.read_bytes() == b"keep me"
    result = cli("render", src, "-o", target, "--force")
    assert result.returncode == 0, result.stderr
    assert target.read_bytes()[:4] == b"RIFF"


def test_cli_missing_and_bad_inputs_are_one_line_errors(cli, tmp_path):
    for args in (["render", tmp_path / "missing.mid", "-o", tmp_path / "x.wav"],
                 ["render", tmp_path / "song.txt", "-o", tmp_path / "x.wav"]):
        result = cli(*args)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("nesinterp: error: ")
    assert not (tmp_path / "x.wav").exists()


def test_cli_render_plot_prints_every_file_it_writes(cli, tmp_path):
    from nesinterp.examples import example_path

    a, b = example_path("overworld"), example_path("dungeon")
    out = tmp_path / "out"
    result = cli("render", a, b, "-o", out, "--plot", "--rate", "8000")
    assert result.returncode == 0, result.stderr
    expected = [out / "overworld.wav", out / "overworld.png", out / "dungeon.wav", out / "dungeon.png"]
    assert result.stdout.splitlines() == [str(p) for p in expected]
    assert sorted(out.iterdir()) == sorted(expected)
