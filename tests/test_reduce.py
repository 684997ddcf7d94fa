"""nesinterp.io.reduce: any MIDI file -> the four NES voices, on MIDI files built here byte by byte."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nesinterp.io.midi_file import META_SET_TEMPO, META_TRACK_NAME, meta, midi_bytes, parse_midi, track_chunk
from nesinterp.io.readers import ReadError, read_score
from nesinterp.io.reduce import DRUM_MAP, ReduceError, score_from_general_midi
from nesinterp.score import Field, Score, Voice, validate_array

TPB = 480
TPF = 40  # ticks per frame at 120 bpm


def tempo(tick: int, us_per_beat: int) -> tuple[int, bytes]:
    return tick, meta(META_SET_TEMPO, us_per_beat.to_bytes(3, "big"))


def notes(spec, channel: int = 0) -> list[tuple[int, bytes]]:
    """Events of (start tick, end tick, pitch, velocity) notes. At one tick, offs of earlier notes come
    before ons, and the off of a zero-length note after its on. Every other note-off is a note-on with
    velocity 0 (both forms must work)."""
    events = []
    for i, (start, end, pitch, velocity) in enumerate(spec):
        events.append((start, 1, bytes([0x90 | channel, pitch, velocity])))
        off = bytes([0x80 | channel, pitch, 64]) if i % 2 else bytes([0x90 | channel, pitch, 0])
        events.append((end, 0 if end > start else 2, off))
    events.sort(key=lambda e: (e[0], e[1]))
    return [(t, b) for t, _, b in events]


def track(events, name: str | None = None) -> bytes:
    head = [(0, meta(META_TRACK_NAME, name.encode()))] if name else []
    return track_chunk(head + sorted(events, key=lambda e: e[0]))


def reduce(data: bytes, **kw) -> Score:
    return score_from_general_midi(parse_midi(data), "song", "test.mid", **kw)


def voice_notes(score: Score, voice: Voice) -> np.ndarray:
    return score.notes[:, voice]


# Tempo map: 120 bpm, then 60 bpm from beat 2, then 240 bpm from beat 4.
TEMPO_MAP = [tempo(0, 500000), tempo(2 * TPB, 1000000), tempo(4 * TPB, 250000)]
# (start beat, end beat, pitch) and the frames they must land on through the tempo map.
MELODY = [(0, 2, 60), (2, 3, 62), (3, 4, 64), (4, 5, 65), (5, 6, 67)]
MELODY_FRAMES = [(0, 24), (24, 48), (48, 72), (72, 78), (78, 84)]


def _expect_melody(score: Score) -> None:
    assert score.frames == 84
    p1 = voice_notes(score, Voice.P1)
    for (start, end), (_, _, pitch) in zip(MELODY_FRAMES, MELODY):
        assert (p1[start:end] == pitch).all(), (start, end, pitch, p1[start:end])
    assert not score.notes[:, 1:].any()


def test_type0_tempo_changes_land_on_frames():
    spec = [(a * TPB, b * TPB, p, 100) for a, b, p in MELODY]
    data = midi_bytes([track(TEMPO_MAP + notes(spec))], TPB, fmt=0)
    score = reduce(data)
    _expect_melody(score)
    assert score.name == "song" and score.source == "test.mid"


def test_type1_tempo_track_and_two_note_tracks():
    spec = [(a * TPB, b * TPB, p, 100) for a, b, p in MELODY]
    bass = [(0, 4 * TPB, 36, 90), (4 * TPB, 6 * TPB, 38, 90)]
    data = midi_bytes([track(TEMPO_MAP), track(notes(spec), "lead"), track(notes(bass, 1), "bass")], TPB)
    score = reduce(data)
    assert score.frames == 84
    p1, tr = voice_notes(score, Voice.P1), voice_notes(score, Voice.TR)
    for (start, end), (_, _, pitch) in zip(MELODY_FRAMES, MELODY):
        assert (p1[start:end] == pitch).all()
    assert (tr[:72] == 36).all() and (tr[72:84] == 38).all()
    assert not voice_notes(score, Voice.P2).any()
    assert not score.velocities[:, Voice.TR].any()


def test_drums_go_to_noise_only():
    hits = [(0, 36), (12, 38), (24, 42), (36, 49)]  # (frame, GM drum note)
    drum_spec = [(f * TPF, f * TPF + 10, n, 127) for f, n in hits]
    lead = [(0, 48 * TPF, 72, 100)]
    data = midi_bytes([track(notes(lead)), track(notes(drum_spec, 9))], TPB)
    score = reduce(data)
    noise = score.voice(Voice.NO)
    for frame, gm in hits:
        note, length, loop, _ = DRUM_MAP[gm]
        assert noise[frame, Field.NOTE] == note
        assert noise[frame, Field.VELOCITY] == 15
        assert noise[frame, Field.TIMBRE] == loop
        ring = noise[frame : frame + length]
        assert (ring[:, Field.NOTE] == note).all()
        assert (np.diff(ring[:, Field.VELOCITY].astype(int)) <= 0).all()  # decays
        if length > 1:
            assert ring[-1, Field.VELOCITY] == 1
    assert score.frames == 36 + DRUM_MAP[49][1]
    assert (voice_notes(score, Voice.P1)[:48] == 72).all() and not voice_notes(score, Voice.P1)[48:].any()
    assert not voice_notes(score, Voice.P2).any() and not voice_notes(score, Voice.TR).any()
    # Kick low, snare mid, hat high.
    assert DRUM_MAP[36][0] < DRUM_MAP[38][0] < DRUM_MAP[42][0]


def test_drums_only_and_latest_hit_cuts_the_ringing_one():
    # crash at frame 0 (16 frames), closed hat at frame 4 (1 frame): the hat cuts the crash.
    data = midi_bytes([track(notes([(0, TPF, 49, 100), (4 * TPF, 5 * TPF, 42, 100)], 9))], TPB)
    score = reduce(data)
    assert score.frames == 16
    noise = voice_notes(score, Voice.NO)
    assert (noise[:4] == DRUM_MAP[49][0]).all() and noise[4] == DRUM_MAP[42][0]
    assert not noise[5:].any()
    assert not score.notes[:, :3].any()


def test_three_voice_chords_top_middle_bass_and_octave_folding():
    chords = [(0, 60, 64, 67), (1, 48, 65, 69), (2, 15, 62, 115), (3, 43, 59, 125)]
    spec = [(b * TPB, (b + 1) * TPB, p, 100) for b, *pitches in chords for p in pitches]
    score = reduce(midi_bytes([track(notes(spec))], TPB))
    expect = [  # (P1, P2, TR) per beat; 115 -> 103, 125 -> 101 (octaves down), 15 -> 27 (up)
        (67, 64, 60),
        (69, 65, 48),
        (103, 62, 27),
        (101, 59, 43),
    ]
    for beat, (p1, p2, tr) in enumerate(expect):
        frame = beat * 12 + 5
        assert tuple(score.notes[frame, :3]) == (p1, p2, tr), beat
    validate_array(score.array)


def test_one_and_two_pitches_and_stable_inner_line():
    spec = [
        (0, 4 * TPB, 76, 100),          # melody held 4 beats
        (0, 4 * TPB, 67, 100),          # inner line held 4 beats
        (0, 2 * TPB, 48, 100),          # bass stops after 2 beats
        (5 * TPB, 6 * TPB, 72, 100),    # a lone note
        (6 * TPB, 7 * TPB, 72, 100),    # two pitches: top and bottom
        (6 * TPB, 7 * TPB, 45, 100),
    ]
    score = reduce(midi_bytes([track(notes(spec))], TPB))
    n = score.notes
    assert tuple(n[6, :3]) == (76, 67, 48)
    # Bass gone, inner note held: it stays in P2 instead of jumping to the triangle.
    assert tuple(n[30, :3]) == (76, 67, 0)
    assert tuple(n[62, :3]) == (72, 0, 0)  # one pitch -> P1
    assert tuple(n[78, :3]) == (72, 0, 45)  # two pitches -> P1 top, TR bottom


def test_bass_outlasting_the_melody_stays_in_triangle():
    spec = [(0, TPB, 72, 100), (0, 3 * TPB, 40, 100)]
    n = reduce(midi_bytes([track(notes(spec))], TPB)).notes
    assert tuple(n[6, :3]) == (72, 0, 40)
    assert tuple(n[20, :3]) == (0, 0, 40)


def test_repeated_notes_stay_audible():
    # Four legato quarter notes of one pitch (off and on at the same tick) and 1-frame notes.
    spec = [(b * TPB, (b + 1) * TPB, 60, 100) for b in range(4)]
    spec += [(4 * TPB + TPF * i, 4 * TPB + TPF * (i + 1), 60, 100) for i in range(3)]
    score = reduce(midi_bytes([track(notes(spec))], TPB))
    p1 = voice_notes(score, Voice.P1)
    assert score.frames == 51
    assert [f for f in range(score.frames) if p1[f] == 0] == [11, 23, 35, 47]
    assert not score.velocities[[11, 23, 35, 47], Voice.P1].any()


def test_velocity_scale_and_timbre_defaults():
    spec = [(0, TPB, 72, 127), (TPB, 2 * TPB, 72, 64), (2 * TPB, 3 * TPB, 72, 1),
            (0, 3 * TPB, 60, 50), (0, 3 * TPB, 40, 50)]
    score = reduce(midi_bytes([track(notes(spec))], TPB))
    v = score.velocities
    assert (v[5, Voice.P1], v[17, Voice.P1], v[29, Voice.P1]) == (15, 8, 1)
    assert v[5, Voice.P2] == 6 and not v[:, Voice.TR].any()
    assert (score.timbres[:, Voice.P1] == 2).all() and (score.timbres[:, Voice.P2] == 1).all()
    assert not score.timbres[:, Voice.TR].any()


def test_unclosed_and_zero_length_notes():
    events = [(0, bytes([0x90, 60, 100])), (TPB, bytes([0x90, 64, 100])), (TPB, bytes([0x80, 64, 0]))]
    events.append((2 * TPB, bytes([0xB0, 7, 100])))  # the track ends one tick after this
    score = reduce(midi_bytes([track(events)], TPB))
    n = score.notes
    assert score.frames == 24  # the unclosed note lasts to the end of the track
    assert (n[:12, Voice.P1] == 60).all()
    assert tuple(n[12, :3]) == (64, 60, 0)  # the zero-length note sounds one frame, on top
    assert (n[13:, Voice.P2] == 60).all()  # the held note keeps the voice it moved to


def test_no_notes_is_an_error():
    data = midi_bytes([track([tempo(0, 500000), (10, bytes([0xB0, 7, 100]))])], TPB)
    with pytest.raises(ReduceError, match="no notes"):
        reduce(data)
    assert issubclass(ReduceError, ValueError)


def test_too_long_names_the_limit():
    data = midi_bytes([track(notes([(0, 20 * TPB, 60, 100)]))], TPB)  # 10 s
    with pytest.raises(ReduceError, match="limit of 5 s"):
        reduce(data, max_seconds=5)
    assert reduce(data, max_seconds=10).frames == 240


@pytest.mark.parametrize("unclosed", [False, True])
def test_hostile_header_fails_fast_without_memory(unclosed):
    # One tick per beat, the slowest tempo (16.8 s per beat) and a delta of 2^28 - 1 ticks: 143 years.
    huge = (1 << 28) - 1
    if unclosed:  # a note at tick 0 that ends at a track end far away
        events = [tempo(0, 0xFFFFFF), (0, bytes([0x90, 60, 100])), (huge, bytes([0xB0, 7, 0]))]
    else:
        events = [tempo(0, 0xFFFFFF), (huge, bytes([0x90, 60, 100]))]
    data = midi_bytes([track(events)], 1)
    assert len(data) < 50
    tracemalloc.start()
    began = time.perf_counter()
    try:
        with pytest.raises(ReduceError, match="over the limit of 3600 s"):
            reduce(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - began < 1.0
    assert peak < 1 << 20


def test_read_score_end_to_end(tmp_path):
    spec = [(a * TPB, b * TPB, p, 100) for a, b, p in MELODY]
    path = tmp_path / "tune.mid"
    path.write_bytes(midi_bytes([track(TEMPO_MAP), track(notes(spec), "Piano")], TPB))
    score = read_score(path)
    _expect_melody(score)
    assert score.name == "tune" and score.source == str(path)
    empty = tmp_path / "empty.mid"
    empty.write_bytes(midi_bytes([track([tempo(0, 500000)])], TPB))
    with pytest.raises(ReadError, match="no notes"):
        read_score(empty)


note_strategy = st.tuples(
    st.integers(0, 4000),  # start tick
    st.integers(0, 2000),  # length in ticks
    st.integers(0, 127),  # pitch
    st.integers(1, 127),  # velocity
    st.sampled_from([0, 1, 2, 9]),  # channel (9 = drums)
    st.integers(0, 2),  # track
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(note_strategy, min_size=1, max_size=40),
    st.lists(st.tuples(st.integers(0, 4000), st.integers(200_000, 2_000_000)), max_size=4),
    st.sampled_from([96, 480, 960]),
)
def test_random_notes_always_give_a_valid_score(spec, tempi, tpb):
    tracks = [[tempo(t, us) for t, us in tempi], [], []]
    for start, length, pitch, velocity, channel, index in spec:
        tracks[index] += notes([(start, start + length, pitch, velocity)], channel)
    midi = parse_midi(midi_bytes([track(t) for t in tracks], tpb))
    score = score_from_general_midi(midi, "x", "y")
    validate_array(score.array)
    # Never longer than the song: the latest note end (a drum hit: its mapped length).
    start_s = midi.tick_to_seconds(np.array([s[0] for s in spec]))
    end_s = midi.tick_to_seconds(np.array([s[0] + s[1] for s in spec]))
    start_f = np.floor(start_s * 24 + 0.5).astype(int)
    end_f = np.maximum(start_f + 1, np.floor(end_s * 24 + 0.5).astype(int))
    drum = np.array([s[4] == 9 for s in spec])
    lengths = np.array([DRUM_MAP.get(s[2], (0, 2))[1] for s in spec])
    song = np.where(drum, start_f + lengths, end_f).max()
    assert 1 <= score.frames <= song
    if not drum.any():
        assert not score.notes[:, Voice.NO].any()
    if drum.all():
        assert not score.notes[:, :3].any()
