"""The public API: the README's Python API block runs as written, and the Score interop round trips
(pretty_midi exactly; music21 and MusicXML the same notes and onsets) hold, on the bundled songs and on
real NES-MDB songs."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import nesinterp
from nesinterp import Score

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_python_api_block_runs(monkeypatch):
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):text.index("## Commands")]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {})


def test_public_names_resolve_and_are_documented():
    for name in nesinterp.__all__:
        value = getattr(nesinterp, name)
        if callable(value):
            assert value.__doc__, name
    with pytest.raises(AttributeError):
        nesinterp.no_such_name  # noqa: B018


def test_trained_model_takes_scores_windows_and_refuses_other_lengths():
    model = nesinterp.TrainedModel.load()
    n = model.window
    song = nesinterp.read_score(ROOT / "nesinterp" / "examples" / "overworld.mid")
    window = np.asarray(song.array[:n])
    count = -(-song.frames // n)
    assert model.encode(song).shape == (count, model.latent_dim)
    assert model.encode(window).shape == (1, model.latent_dim)
    assert model.encode([song[:n], song[n:2 * n]]).shape == (2, model.latent_dim)
    short = model.reconstruct(song[:10])
    assert isinstance(short, Score) and short.frames == 10
    with pytest.raises(ValueError, match=f"windows of {n + 1} frames: this model reads windows of {n} frames"):
        model.encode(np.asarray(song.array[:n + 1]))
    decoded = model.decode(model.encode(window))
    assert len(decoded) == 1 and decoded[0].frames == n
    path = model.interpolate(song, song[:n], 3)  # the shorter repeats: as many windows a step as the longer
    assert [s.frames for s in path] == [count * n] * 3


def test_pretty_midi_round_trip_is_exact(tmp_path):
    song = nesinterp.read_score(ROOT / "nesinterp" / "examples" / "dungeon.mid")
    pm = song.to_pretty_midi()
    assert [i.name for i in pm.instruments] == ["p1", "p2", "tr", "no"]
    assert Score.from_pretty_midi(pm).same_music(song)


def test_music21_and_musicxml_keep_notes_and_onsets(tmp_path):
    import music21

    song = nesinterp.read_score(ROOT / "nesinterp" / "examples" / "overworld.mid")
    stream = song.to_music21()
    assert [p.partName for p in stream.parts] == ["Pulse 1", "Pulse 2", "Triangle", "Noise"]
    back = Score.from_music21(stream)
    assert np.array_equal(back.notes, song.notes) and np.array_equal(back.onsets(), song.onsets())
    path = tmp_path / "song.musicxml"
    song.write_musicxml(path)
    parsed = music21.converter.parse(str(path))
    assert len(parsed.parts) == 4 and isinstance(parsed.parts[3].getInstrument(), music21.instrument.Percussion)
    again = Score.from_music21(parsed)
    assert np.array_equal(again.notes, song.notes) and np.array_equal(again.onsets(), song.onsets())


def test_music21_round_trip_on_real_songs(exprsco_valid):
    for name in sorted(exprsco_valid)[::50]:
        song = exprsco_valid[name][:480]
        back = Score.from_music21(song.to_music21())
        assert np.array_equal(back.notes, song.notes), name
        assert np.array_equal(back.onsets(), song.onsets()), name


def test_a_foreign_music21_stream_is_reduced_to_four_voices():
    from music21 import note, stream

    part = stream.Part([note.Note("C5", quarterLength=1), note.Note("E5", quarterLength=1)])
    score = Score.from_music21(stream.Score([part]))
    assert score.notes[:, 0].max() == 76 and score.frames > 0


def test_blend_writes_musicxml_steps_that_music21_reads_with_four_parts(cli, tmp_path):
    import json

    import music21

    examples = ROOT / "nesinterp" / "examples"
    out = tmp_path / "out"
    r = cli("blend", examples / "overworld.mid", examples / "dungeon.mid", "--steps", "3", "-o", out, "--musicxml",
            "--no-wav", "--no-html", "--no-plot")
    assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in out.glob("*.musicxml"))
    assert files == [f"step-0{k}-of-03.musicxml" for k in range(3)]
    assert set(files) <= set(json.loads((out / "blend.json").read_text())["files"])
    parsed = music21.converter.parse(str(out / files[1]))
    assert [p.partName for p in parsed.parts] == ["Pulse 1", "Pulse 2", "Triangle", "Noise"]
    step = nesinterp.read_score(out / "step-01-of-03.mid")
    assert np.array_equal(Score.from_music21(parsed).notes, step.notes)


def test_a_fully_convolutional_model_encodes_and_decodes_whole_songs_without_seams(exprsco_valid):
    """The bundled model (temporal latent) takes a song as one sequence: one window's code is the same
    either way, and across window boundaries the notes change as often as in the real songs, where
    window by window decoding (each window padded with silence) changes them about three times as often.
    Codes are the encoder's (refine=0): seams are the architecture's doing, and refining 30 songs' codes
    would take minutes."""
    from nesinterp.windows import score_windows

    model = nesinterp.TrainedModel.load()
    assert model.autoencoder.fully_convolutional
    n = model.window
    songs = [s for s in exprsco_valid.values() if s.frames > 3 * n][:30]
    one = score_windows(songs[0], n)[:1]
    assert torch.allclose(model.encode_joined(one, refine=0), model.encode(one, refine=0), atol=1e-5)
    rates = {"real": [], "windowed": [], "joined": []}
    for song in songs:
        w = score_windows(song, n)
        outs = {"real": w, "windowed": model.decode_windows(model.encode(w, refine=0)),
                "joined": model.decode_joined(model.encode_joined(w, refine=0))}
        for name, out in outs.items():
            notes = out.reshape(-1, 4, 3)[..., 0]
            rates[name] += [np.mean(notes[b - 1] != notes[b]) for b in range(n, len(notes), n)]
    real, windowed, joined = (float(np.mean(rates[k])) for k in ("real", "windowed", "joined"))
    assert abs(joined - real) < 0.07 and windowed > joined + 0.15, (real, windowed, joined)
    path = model.interpolate(songs[0], songs[1], 3, refine=0)  # Scores: joined
    assert len({s.frames for s in path}) == 1
