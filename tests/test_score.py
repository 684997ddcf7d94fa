import numpy as np
import pytest
from hypothesis import given, strategies as st

from nesinterp.score import (
    FRAME_RATE, Field, Score, ScoreError, Voice, frames_to_samples, samples_to_frames,
)


def make_array(frames=48):
    a = np.zeros((frames, 4, 3), np.uint8)
    a[:, Voice.P1] = (60, 10, 2)
    a[:, Voice.TR] = (40, 0, 0)
    a[::2, Voice.NO] = (16, 5, 1)
    return a


def test_valid_score_properties():
    s = Score(make_array(48), "song", "here")
    assert s.frames == 48 and len(s) == 48
    assert s.duration == pytest.approx(2.0)
    assert s.notes.shape == (48, 4) and s.notes[0, Voice.P1] == 60
    assert s.voice(Voice.NO)[0].tolist() == [16, 5, 1]
    assert not s.is_silent and Score.empty(10).is_silent


def test_array_is_read_only_and_slices_are_views():
    a = make_array(96)
    s = Score(a)
    with pytest.raises(ValueError):
        s.array[0, 0, 0] = 1
    part = s[24:48]
    assert part.frames == 24 and np.shares_memory(part.array, s.array)
    assert s.slice_seconds(1.0, 2.0).same_music(part)
    assert s.slice_seconds(3.5).frames == 12
    with pytest.raises(TypeError):
        s[::2]


@pytest.mark.parametrize("voice, field, value, message", [
    (Voice.P1, Field.NOTE, 20, "P1 note 20"),
    (Voice.P2, Field.NOTE, 109, "P2 note 109"),
    (Voice.TR, Field.NOTE, 10, "TR note 10"),
    (Voice.NO, Field.NOTE, 17, "NO note 17"),
    (Voice.P1, Field.VELOCITY, 0, "velocity must be 1..15"),
    (Voice.P1, Field.VELOCITY, 16, "velocity must be 1..15"),
    (Voice.TR, Field.VELOCITY, 3, "triangle velocity must be 0"),
    (Voice.P1, Field.TIMBRE, 4, "P1 timbre 4"),
    (Voice.NO, Field.TIMBRE, 2, "NO timbre 2"),
    (Voice.TR, Field.TIMBRE, 1, "TR timbre 1"),
])
def test_out_of_range_values_are_refused(voice, field, value, message):
    a = make_array(10)
    a[:, Voice.NO] = (16, 5, 1)
    a[3, voice, field] = value
    with pytest.raises(ScoreError, match=message):
        Score(a)


def test_silent_frames_must_have_zero_velocity_but_may_keep_timbre():
    a = np.zeros((4, 4, 3), np.uint8)
    a[:, Voice.P1, Field.TIMBRE] = 3
    Score(a)
    a[0, Voice.P1, Field.VELOCITY] = 4
    with pytest.raises(ScoreError, match="0 while silent"):
        Score(a)


@pytest.mark.parametrize("array, message", [
    (np.zeros((4, 4, 3), np.int16), "dtype"),
    (np.zeros((4, 3, 3), np.uint8), "shape"),
    (np.zeros((4, 4), np.uint8), "shape"),
    ([[0]], "numpy array"),
])
def test_layout_is_checked(array, message):
    with pytest.raises(ScoreError, match=message):
        Score(array)


def test_from_notes_fills_seprsco_defaults():
    notes = np.array([[60, 0, 40, 3], [0, 50, 0, 0]], np.uint8)
    s = Score.from_notes(notes)
    assert s.velocities.tolist() == [[15, 0, 0, 15], [0, 15, 0, 0]]
    assert not s.timbres.any()


@given(st.integers(0, 24 * 3600 * 2))
def test_frames_to_samples_inverts_nesmdb_frame_count(frames):
    nsamps = frames_to_samples(frames)
    assert samples_to_frames(nsamps) == frames
    assert nsamps == 0 or samples_to_frames(nsamps - 1) < frames
    assert abs(nsamps - frames * 44100 / FRAME_RATE) < 2
