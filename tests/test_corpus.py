"""nesinterp.io.music21: the music21 corpus (installed with music21, offline) as a source of Scores."""

from __future__ import annotations

import numpy as np
import pytest

music21 = pytest.importorskip("music21")
from music21 import dynamics, note, stream, tempo  # noqa: E402

from nesinterp.io.music21 import (  # noqa: E402
    CorpusError,
    music21_pieces,
    piece_group,
    read_music21,
    score_from_music21,
)
from nesinterp.io.readers import read_score  # noqa: E402
from nesinterp.io.reduce import ReduceError  # noqa: E402
from nesinterp.score import Voice, validate_array  # noqa: E402


def mean_pitch(score, voice):
    notes = score.notes[:, voice]
    return notes[notes > 0].mean()


@pytest.fixture(scope="module")
def chorale():
    return read_music21("bach/bwv66.6")


def test_chorale_soprano_alto_bass(chorale):
    validate_array(chorale.array)
    assert chorale.name == "bach_bwv66.6"
    assert chorale.source == "music21:bach/bwv66.6"
    # 36 quarter notes at the chorale's own MetronomeMark (quarter = 96): 22.5 s.
    assert chorale.frames == 540
    assert mean_pitch(chorale, Voice.P1) > mean_pitch(chorale, Voice.P2) > mean_pitch(chorale, Voice.TR)
    sounding = (chorale.notes[:, :3] > 0).mean(axis=0)
    assert (sounding > 0.8).all()
    assert not chorale.notes[:, Voice.NO].any()
    assert not chorale.velocities[:, Voice.TR].any()
    assert set(np.unique(chorale.velocities[:, Voice.P1])) <= {0, 10}


def test_chorale_matches_music21_parts(chorale):
    path = music21.corpus.getWork("bach/bwv66.6")
    parsed = music21.converter.parse(path, forceSource=True, storePickle=False)
    soprano = parsed.parts[0].flatten().notes[0]
    bass = parsed.parts[3].flatten().notes[0]
    assert chorale.notes[0, Voice.P1] == soprano.pitch.midi
    assert chorale.notes[0, Voice.TR] == bass.pitch.midi


def test_read_score_music21_prefix(chorale):
    assert read_score("music21:bach/bwv66.6") == chorale


def test_pieces_of_a_composer():
    pieces = music21_pieces("bach")
    assert len(pieces) > 100
    assert "bach/bwv66.6" in pieces
    assert pieces == sorted(set(pieces))
    assert music21_pieces("Bach") == pieces


def test_pieces_of_one_work_folder_and_tune():
    assert music21_pieces("bach/bwv66.6") == ["bach/bwv66.6"]
    assert music21_pieces("music21:bwv66.6") == ["bach/bwv66.6"]
    movements = music21_pieces("beethoven/opus18no1")
    assert movements == [f"beethoven/opus18no1/movement{i}" for i in range(1, 5)]
    assert music21_pieces("airdsAirs/book1#5") == ["airdsAirs/book1#5"]


@pytest.mark.parametrize("query", ["nobody", "bach/bwv9999", "", "../secrets", "airdsAirs/book1#99999"])
def test_unknown_names_raise(query):
    with pytest.raises(CorpusError):
        music21_pieces(query)
    assert issubclass(CorpusError, ValueError)


def test_reading_many_pieces_at_once_is_refused():
    with pytest.raises(CorpusError, match="not one"):
        read_music21("beethoven/opus18no1")


@pytest.mark.parametrize(
    "piece, group",
    [
        ("bach/bwv66.6", "bach/bwv66"),
        ("bach/bwv112.5-sc", "bach/bwv112"),
        ("beethoven/opus18no1/movement3", "beethoven/opus18no1"),
        ("palestrina/Credo_47_a", "palestrina/mass47"),
        ("palestrina/Agnus_I_75", "palestrina/mass75"),
        ("airdsAirs/book1#5", "airdsAirs/book1#5"),
        ("music21:joplin/maple_leaf_rag", "joplin/maple_leaf_rag"),
    ],
)
def test_piece_group(piece, group):
    assert piece_group(piece) == group


def test_no_pickles_left_in_music21_scratch_dir():
    scratch = music21.environment.Environment().getRootTempDir()
    before = set(scratch.iterdir())
    read_music21("bach/bwv10.7")
    assert set(scratch.iterdir()) == before


def _part(pitches, quarter=1.0, marks=()):
    part = stream.Part()
    for offset, mark in marks:
        part.insert(offset, mark)
    for i, p in enumerate(pitches):
        part.insert(i * quarter, note.Note(p, quarterLength=quarter))
    return part


def test_metronome_marks_set_the_timing():
    score = stream.Score()
    # 4 quarters at 60 bpm (4 s), then 4 at 120 bpm (2 s).
    score.insert(0, _part([72] * 4 + [74] * 4, marks=[(0, tempo.MetronomeMark(number=60)),
                                                      (4, tempo.MetronomeMark(number=120))]))
    s = score_from_music21(score, "t", "s")
    assert s.frames == 144
    p1 = s.notes[:, Voice.P1]
    assert p1[95] == 72 and p1[96] == 74  # the tempo change lands at 4 s


def test_default_tempo_without_marks():
    score = stream.Score()
    score.insert(0, _part([60, 62, 64, 65]))
    assert score_from_music21(score).frames == round(4 * 60 / 96 * 24)


def test_three_and_two_part_assignment_and_dynamics():
    three = stream.Score()
    three.insert(0, _part([48, 50], marks=[(0, dynamics.Dynamic("f"))]))  # lowest, first in order
    three.insert(0, _part([76, 77], marks=[(0, dynamics.Dynamic("p"))]))
    three.insert(0, _part([67, 69]))
    s = score_from_music21(three)
    assert tuple(s.notes[5, :3]) == (76, 67, 48)
    assert s.velocities[5, Voice.P1] == 6 and s.velocities[5, Voice.P2] == 10  # p, no dynamics

    two = stream.Score()
    upper = _part([])
    upper.insert(0, music21.chord.Chord([64, 72, 79], quarterLength=1))
    two.insert(0, upper)
    lower = _part([])
    lower.insert(0, music21.chord.Chord([36, 43], quarterLength=1))
    two.insert(0, lower)
    s = score_from_music21(two)
    assert tuple(s.notes[5, :3]) == (79, 64, 36)  # top, lowest chord note of the upper part, bass


def test_empty_piece_is_an_error():
    with pytest.raises(ReduceError, match="no notes"):
        score_from_music21(stream.Score([stream.Part()]))


def test_chord_symbols_give_a_bass_line():
    melody = _part([76, 74, 72, 71])
    melody.insert(0, music21.harmony.ChordSymbol("C"))
    melody.insert(2, music21.harmony.ChordSymbol("G/B"))
    score = stream.Score()
    score.insert(0, melody)
    s = score_from_music21(score)
    tr = s.notes[:, Voice.TR]
    half = round(2 * 60 / 96 * 24)  # two quarters at the default tempo
    assert (tr[: half - 1] == 36).all() and (tr[half:] == 47).all()  # C2, then the slash bass B2
    assert s.notes[0, Voice.P1] == 76


def test_abc_work_written_voice_by_voice_is_one_piece():
    assert "josquin/milleRegrets" in music21_pieces("josquin")
    s = read_music21("josquin/milleRegrets")
    assert (s.notes[:, :3] > 0).mean(axis=0).min() > 0.5
    assert mean_pitch(s, Voice.P1) > mean_pitch(s, Voice.TR)
