import io
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest
from hypothesis import given, settings

from data_prep import read_score
from nesinterp.io.nesmdb_midi import nesmdb_midi_bytes, read_nesmdb_midi_bytes
from nesinterp.io.pickles import score_from_pickle_bytes, song_name
from nesinterp.score import Score

from .conftest import read_archive_members
from .strategies import scores


def test_midi_samples_equal_real_exprsco_element_for_element(midi_samples, exprsco_archive):
    members = read_archive_members(exprsco_archive, lambda n: "LawnMower" in n)
    want = {song_name(Path(n).name): score_from_pickle_bytes(d) for n, d in members.items()}
    assert len(midi_samples) == 5
    for path in midi_samples:
        got = read_score(path)
        expected = want[song_name(path.name)]
        assert got.array.shape == expected.array.shape, path.name
        assert np.array_equal(got.array, expected.array), path.name
        assert got.name == song_name(path.name)


def test_round_trip_is_lossless_on_every_valid_song(exprsco_valid):
    assert len(exprsco_valid) == 403
    for name, score in exprsco_valid.items():
        back = read_nesmdb_midi_bytes(nesmdb_midi_bytes(score))
        assert back.same_music(score), name


def test_songs_longer_than_pretty_midis_max_tick_load(exprsco_archive):
    members = read_archive_members(exprsco_archive, lambda n: "/train/" in n)
    long = max((score_from_pickle_bytes(d) for d in members.values()), key=lambda s: s.frames)
    assert long.duration > 1000  # NES-MDB's longest song is 1518 s
    data = nesmdb_midi_bytes(long)
    assert read_nesmdb_midi_bytes(data).same_music(long)
    with pytest.raises(ValueError, match="largest tick"):
        pretty_midi.PrettyMIDI(io.BytesIO(data))  # what a reader built on pretty_midi's defaults hits


def test_written_file_has_nesmdb_layout():
    a = np.zeros((48, 4, 3), np.uint8)
    a[0:24, 0] = (60, 9, 2)
    a[24:48, 0] = (62, 9, 2)
    a[10:20, 0, 1] = 5
    a[:, 2, 0] = 40
    a[5:10, 3] = (16, 7, 1)
    mid = mido.MidiFile(file=io.BytesIO(nesmdb_midi_bytes(Score(a))))
    assert mid.type == 1 and mid.ticks_per_beat == 22050 and len(mid.tracks) == 5
    conductor = [m for m in mid.tracks[0]]
    assert conductor[0].type == "set_tempo" and conductor[0].tempo == 500000
    sigs = [m for m in conductor if m.type == "time_signature"]
    assert [(s.numerator, s.denominator) for s in sigs] == [(4, 4), (1, 1)]
    assert sum(m.time for m in conductor if m.type != "end_of_track") == 88200  # 2 s of samples
    for track, (name, channel, program) in zip(mid.tracks[1:], [("p1", 0, 80), ("p2", 1, 81),
                                                                ("tr", 2, 38), ("no", 9, 121)]):
        assert track[0].type == "track_name" and track[0].name == name
        assert track[1].type == "program_change" and track[1].program == program
        assert all(m.channel == channel for m in track if not m.is_meta)
    p1 = [(m.type, getattr(m, "control", None)) for m in mid.tracks[1] if not m.is_meta]
    assert ("control_change", 11) in p1 and ("control_change", 12) in p1
    tr_vel = {m.velocity for m in mid.tracks[3] if m.type == "note_on"}
    assert tr_vel == {0, 1}


def test_pretty_midi_reads_our_midi_like_we_do():
    a = np.zeros((72, 4, 3), np.uint8)
    a[6:30, 0] = (64, 12, 1)
    a[30:50, 0] = (67, 12, 1)
    a[0:72, 1] = (50, 3, 0)
    a[0:72, 2, 0] = 45
    a[0:72:2, 3] = (9, 4, 0)
    pm = pretty_midi.PrettyMIDI(io.BytesIO(nesmdb_midi_bytes(Score(a))))
    names = [i.name for i in pm.instruments]
    assert names == ["p1", "p2", "tr", "no"] and pm.instruments[3].is_drum
    p1 = [(n.pitch, round(n.start * 24), round(n.end * 24)) for n in pm.instruments[0].notes]
    assert p1 == [(64, 6, 30), (67, 30, 50)]
    assert pm.get_end_time() == pytest.approx(3.0, abs=1e-3)


@settings(max_examples=60, deadline=None)
@given(scores())
def test_round_trip_property(score):
    assert read_nesmdb_midi_bytes(nesmdb_midi_bytes(score)).same_music(score)


def test_tempo_scaled_nesmdb_midi_is_read_through_the_tempo_map():
    # The same song written at another resolution and tempo reads to the same frames.
    a = np.zeros((48, 4, 3), np.uint8)
    a[12:36, 1] = (70, 8, 3)
    mid = mido.MidiFile(file=io.BytesIO(nesmdb_midi_bytes(Score(a))))
    scaled = mido.MidiFile(type=1, ticks_per_beat=480)
    for track in mid.tracks:
        new = mido.MidiTrack()
        for m in track:
            if m.type == "set_tempo":
                m = m.copy(tempo=1000000)
            new.append(m.copy(time=round(m.time * 480 / 22050 / 2)))
        scaled.tracks.append(new)
    buf = io.BytesIO()
    scaled.save(file=buf)
    assert read_nesmdb_midi_bytes(buf.getvalue()).same_music(Score(a))


def test_retriggered_midi_restarts_notes_at_reattacks_and_reads_back_the_same(exprsco_valid, tmp_path):
    """``retrigger``: each re-attack (same pitch, volume rising again) becomes its own MIDI note, where
    NES-MDB's layout only raises CC 11; the file still reads back to the same Score."""
    import io

    import mido

    from nesinterp.io.nesmdb_midi import nesmdb_midi_bytes
    from nesinterp.io.readers import read_score
    from nesinterp.score import note_events

    songs = [s for s in list(exprsco_valid.values())[:80] if note_events(s.array)[1].any()][:5]
    assert songs, "no re-attacks in the first valid songs"
    for song in songs:
        plain, again = nesmdb_midi_bytes(song), nesmdb_midi_bytes(song, retrigger=True)
        path = tmp_path / f"{song.name}.mid"
        path.write_bytes(again)
        assert read_score(path).same_music(song)

        def note_ons(data):
            midi = mido.MidiFile(file=io.BytesIO(data))
            return sum(1 for track in midi.tracks for m in track if m.type == "note_on" and m.velocity > 0)

        assert note_ons(again) - note_ons(plain) == int(note_events(song.array)[1].sum())
