"""Music metrics (evaluation.md, section 3) on small constructed arrays with hand-computed answers:
onsets with re-attacks, onset matching within a tolerance, pitch accuracy on sounding frames, the
reconstruction baselines, interpolation paths and the per-step blend report. Real-data properties of
realism and the baselines are in test_realism.py."""

import json

import numpy as np
import pytest

from nesinterp.metrics import (
    always_rest, cell_distance, constant_note, crossfade_path, endpoint_curves, hold_every, interpolation_report,
    monotonicity_violations, note_accuracy, note_events, onset_f1, onset_matches, onset_ratio, onsets,
    pitch_accuracy_sounding, reconstruction_baselines, reconstruction_scores, sounding_share, step_report,
    step_smoothness,
)
from nesinterp.metrics.music import (
    RECONSTRUCTION_SCORES, loudness_ratio, pitch_class_histogram, pitch_class_morph, timbre_accuracy, volume_error,
)
from nesinterp.metrics.realism import RealismReference, typicality

P1, P2, TR, NO = range(4)


def score(frames: int, **voices) -> np.ndarray:
    """A score (frames, 4, 3): each voice given as notes or (notes, velocities); pulse and noise voices
    without velocities sound at 8, the triangle at 0 (as in NES-MDB)."""
    x = np.zeros((frames, 4, 3), np.uint8)
    for name, spec in voices.items():
        v = ("P1", "P2", "TR", "NO").index(name)
        notes, vel = spec if isinstance(spec, tuple) else (spec, None)
        notes = np.asarray(notes)
        x[:, v, 0] = notes
        if vel is not None:
            x[:, v, 1] = vel
        elif v != TR:
            x[:, v, 1] = np.where(notes > 0, 8, 0)
    return x


def frames_of(mask) -> list[int]:
    return np.nonzero(mask)[0].tolist()


# --- interpolation paths ------------------------------------------------------------------------------

def test_even_crossfade_is_monotone_and_smooth():
    a = np.full((64, 4), 60, np.uint8)
    b = np.full((64, 4), 70, np.uint8)
    path = crossfade_path(a, b, 8, np.random.default_rng(0))
    d_a, d_b = endpoint_curves(path)
    assert d_a[0] == 0 and d_a[-1] == 1 and d_b[-1] == 0 and d_b[0] == 1
    assert monotonicity_violations(path) == 0
    assert step_smoothness(path) < 0.1


def test_abrupt_switch_scores_near_one():
    a = np.full((64, 4), 60, np.uint8)
    b = np.full((64, 4), 70, np.uint8)
    path = [a] * 4 + [b] * 4
    assert step_smoothness(path) == pytest.approx(1 - 1 / 7)
    assert monotonicity_violations([a, b, a, b]) > 0
    assert np.isnan(step_smoothness([a, a, a]))


def test_cell_distance_and_curves_accept_score_arrays():
    a = np.zeros((16, 4, 3), np.uint8)
    b = a.copy()
    b[:, 0, 0] = 60
    b[:, 1, 1] = 9  # volume only: the note is the same, so the cell is the same
    assert cell_distance(a, b) == 0.25
    d_a, d_b = endpoint_curves([a, b])
    assert d_a.tolist() == [0.0, 0.25] and d_b.tolist() == [0.25, 0.0]
    report = interpolation_report([a, b], a, b)
    assert report["endpoint_distance_a"] == [0.0, 0.25] and report["endpoint_distance_b"] == [0.25, 0.0]
    assert report["reconstruction_a"]["mean"]["note_accuracy"] == 1.0


def test_crossfade_path_is_monotone_and_switches_whole_cells():
    a = np.full((32, 4, 3), 0, np.uint8)
    b = np.full((32, 4, 3), 1, np.uint8)
    path = crossfade_path(a, b, 6, np.random.default_rng(0))
    assert len(path) == 6 and np.array_equal(path[0], a) and np.array_equal(path[-1], b)
    assert monotonicity_violations(path) == 0
    # whole (note, velocity, timbre) cells switch together
    assert all(np.all(p.min(axis=2) == p.max(axis=2)) for p in path)
    # a stack of windows (n, frames, 4, 3) too, and the share from B grows with t
    stack = crossfade_path(np.stack([a] * 3), np.stack([b] * 3), 5, np.random.default_rng(1))
    shares = [float(p.mean()) for p in stack]
    assert shares == sorted(shares) and shares[0] == 0 and shares[-1] == 1
    assert all(np.all(p.min(axis=-1) == p.max(axis=-1)) for p in stack)


# --- onsets -------------------------------------------------------------------------------------------

def test_onsets_new_pitch_and_start_after_silence():
    x = score(8, P1=[60, 60, 62, 62, 0, 0, 62, 62], NO=[5, 5, 5, 7, 7, 0, 3, 3])
    on = onsets(x)
    assert on.shape == (8, 4) and on.dtype == bool
    assert frames_of(on[:, P1]) == [0, 2, 6]
    assert frames_of(on[:, NO]) == [0, 3, 6]
    assert not on[:, P2].any()  # silent: no onsets
    # the first frame of a window that sounds is an onset
    assert frames_of(onsets(score(4, P1=[60, 60, 60, 60]))[:, P1]) == [0]


def test_reattack_same_note_with_rising_volume():
    # one held note, volume 10 8 6 12 10 8 9 10: the volume rises at 3 and at 6 (6 -> 7 continues that rise)
    x = score(8, P1=([60] * 8, [10, 8, 6, 12, 10, 8, 9, 10]))
    on, re = note_events(x)
    assert frames_of(on[:, P1]) == [0, 3, 6]
    assert frames_of(re[:, P1]) == [3, 6]
    assert frames_of(onsets(x)[:, P1]) == [0, 3, 6]


def test_swell_over_several_rising_frames_counts_once():
    # after silence: the note starts at 1 and swells 4 5 6 7 -> one onset
    x = score(7, P1=([0, 60, 60, 60, 60, 60, 60], [0, 4, 5, 6, 7, 7, 7]))
    assert frames_of(onsets(x)[:, P1]) == [1]
    assert not note_events(x)[1].any()
    # a decay, then a swell over three frames: one re-attack where the swell begins
    y = score(8, P1=([60] * 8, [12, 10, 8, 9, 10, 11, 11, 11]))
    assert frames_of(onsets(y)[:, P1]) == [0, 3]
    assert frames_of(note_events(y)[1][:, P1]) == [3]


def test_notes_only_arrays_have_no_reattacks():
    x = score(8, P1=([60] * 8, [10, 8, 6, 12, 10, 8, 9, 10]), P2=[60, 60, 62, 62, 0, 0, 62, 62])
    notes = x[..., 0]
    on, re = note_events(notes)
    assert not re.any()
    assert frames_of(onsets(notes)[:, P1]) == [0]  # the re-attacks at 3 and 6 need the volume
    assert frames_of(onsets(notes)[:, P2]) == frames_of(onsets(x)[:, P2]) == [0, 2, 6]


def test_triangle_has_no_reattacks_from_velocity_zero():
    x = score(8, TR=[45, 45, 45, 45, 52, 52, 0, 45])  # velocity 0 throughout, as NES-MDB stores it
    assert (x[:, TR, 1] == 0).all()
    on, re = note_events(x)
    assert frames_of(on[:, TR]) == [0, 4, 7] and not re.any()


def test_onsets_of_a_stack_are_per_window():
    a = score(4, P1=[60, 60, 60, 60])
    stack = np.stack([a, a])
    on = onsets(stack)
    assert on.shape == (2, 4, 4)
    # each window's first sounding frame is an onset; nothing carries over between windows
    assert frames_of(on[0, :, P1]) == frames_of(on[1, :, P1]) == [0]


# --- onset matching -----------------------------------------------------------------------------------

def test_onset_matches_exact_and_within_one_frame():
    # true P1 onsets at 0 (60), 4 (62), 10 (64); predicted at 0 (60), 5 (62), 11 (64): two are one frame late
    t = score(16, P1=[60] * 4 + [62] * 4 + [0] * 2 + [64] * 6)
    p = score(16, P1=[60] * 5 + [62] * 3 + [0] * 3 + [64] * 5)
    matched, n_pred, n_true = onset_matches(p, t, 0)
    assert matched[P1] == 1 and n_pred[P1] == 3 and n_true[P1] == 3
    assert onset_matches(p, t, 1)[0][P1] == 3
    assert onset_f1(p, t, 0)[P1] == pytest.approx(1 / 3)
    assert onset_f1(p, t, 1)[P1] == pytest.approx(1.0)
    # predicted one frame early matches too
    early = score(16, P1=[60] * 3 + [62] * 5 + [0] * 1 + [64] * 7)
    assert onset_matches(early, t, 1)[0][P1] == 3 and onset_matches(early, t, 0)[0][P1] == 1
    # two frames late is beyond a tolerance of 1, not of 2
    late2 = score(16, P1=[60] * 6 + [62] * 2 + [0] * 4 + [64] * 4)
    assert onset_matches(late2, t, 1)[0][P1] == 1 and onset_matches(late2, t, 2)[0][P1] == 3


def test_onset_pitch_must_match_for_melodic_voices_not_for_noise():
    t = score(8, P1=[60] * 4 + [62] * 4, NO=[5] * 4 + [7] * 4)
    # P1 onsets on the right frames with the wrong pitches; noise onsets at 0 and 5 with other indices
    p = score(8, P1=[61] * 4 + [63] * 4, NO=[9] * 5 + [3] * 3)
    matched, n_pred, n_true = onset_matches(p, t, 1)
    assert matched[P1] == 0 and n_pred[P1] == 2 and n_true[P1] == 2
    assert onset_f1(p, t, 1)[P1] == 0.0
    assert onset_matches(p, t, 0)[0][NO] == 1  # frame 0: any index
    assert matched[NO] == 2  # and 5 against 4 within one frame
    # the pitch is compared with the true onset's pitch at its own frame, not the frame of the prediction
    t2 = score(4, P1=[0, 60, 60, 60])
    p2 = score(4, P1=[60, 60, 60, 60])  # onset at 0 with 60, the true onset at 1 is 60: a match
    assert onset_matches(p2, t2, 1)[0][P1] == 1


def test_onset_matching_is_one_to_one():
    # one true onset at 4 (60); two predictions of 60, at 3 and 5, both within one frame
    t = score(8, P1=[0, 0, 0, 0, 60, 60, 60, 60])
    p = score(8, P1=[0, 0, 0, 60, 0, 60, 60, 60])
    matched, n_pred, n_true = onset_matches(p, t, 1)
    assert (matched[P1], n_pred[P1], n_true[P1]) == (1, 2, 1)
    assert onset_f1(p, t, 1)[P1] == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    # and the other way: two true onsets near one prediction
    assert onset_matches(t, p, 1)[0][P1] == 1
    # noise (any index): two predictions one frame from one true onset still count once
    t_no = score(8, NO=[0, 0, 0, 0, 5, 5, 5, 5])
    p_no = score(8, NO=[0, 0, 0, 9, 0, 3, 3, 3])
    assert onset_matches(p_no, t_no, 1)[0][NO] == 1
    assert onset_f1(p_no, t_no, 1)[NO] == pytest.approx(2 / 3)


def test_onset_tolerance_does_not_cross_windows():
    t = np.stack([score(4), score(4, P1=[60, 60, 60, 60])])      # onset at frame 0 of window 1
    p = np.stack([score(4, P1=[0, 0, 0, 60]), score(4)])          # onset at frame 3 of window 0
    matched, n_pred, n_true = onset_matches(p, t, 1)
    assert (matched[P1], n_pred[P1], n_true[P1]) == (0, 1, 1)
    # counts are summed over windows
    both = np.stack([score(4, P1=[60, 60, 62, 62])] * 3)
    assert onset_matches(both, both, 0)[0][P1] == 6


def test_onset_f1_conventions_without_onsets():
    silent = score(8)
    note = score(8, P1=[60] * 8)
    assert onset_f1(silent, silent, 0).tolist() == [1.0, 1.0, 1.0, 1.0]   # nothing to find, nothing found
    assert onset_f1(silent, note, 1)[P1] == 0.0                             # all missed
    assert onset_f1(note, silent, 1)[P1] == 0.0                             # all spurious
    assert onset_f1(note, note, 0).tolist() == [1.0, 1.0, 1.0, 1.0]


def test_reattacks_count_in_matching():
    t = score(8, P1=([60] * 8, [10, 8, 6, 12, 10, 8, 6, 4]))  # onsets 0 and a re-attack at 3
    held = score(8, P1=([60] * 8, [10, 9, 8, 7, 6, 5, 4, 3]))  # the same note without the re-attack
    assert onset_matches(held, t, 1)[0][P1] == 1
    assert onset_f1(held, t, 1)[P1] == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert onset_f1(t, t, 0)[P1] == 1.0


# --- onset ratio, pitch accuracy, reconstruction scores ------------------------------------------------

def test_onset_ratio():
    t = score(8, P1=[60, 60, 62, 62, 0, 0, 64, 64], P2=[60] * 8)
    p = score(8, P1=[60] * 8, P2=[60, 62] * 4, TR=[45] * 8)
    r = onset_ratio(p, t)
    assert r[P1] == pytest.approx(1 / 3) and r[P2] == pytest.approx(8.0)
    assert np.isnan(r[TR]) and np.isnan(r[NO])  # no true onsets
    assert onset_ratio(t, t)[P1] == 1.0


def test_pitch_accuracy_on_sounding_frames():
    t = score(8, P1=[60, 60, 62, 62, 0, 0, 0, 0], TR=[45] * 8, NO=[5] * 4 + [0] * 4)
    p = score(8, P1=[60, 0, 62, 61, 70, 70, 70, 70], TR=[45] * 4 + [0] * 4, NO=[6] * 2 + [5] * 6)
    acc = pitch_accuracy_sounding(p, t)
    assert acc[P1] == pytest.approx(0.5)  # 60 right, rest wrong, 62 right, 61 wrong; extra notes don't count
    assert np.isnan(acc[P2])              # P2 never sounds in the target
    assert acc[TR] == pytest.approx(0.5)  # rests count as wrong
    assert acc[NO] == pytest.approx(0.5)  # for noise, the index
    # per-frame note accuracy counts rests too
    assert note_accuracy(p, t).tolist() == pytest.approx([2 / 8, 1.0, 0.5, 2 / 8])


def test_reconstruction_scores_keys_values_and_none():
    t = score(8, P1=[60, 60, 62, 62, 0, 0, 64, 64], TR=[45] * 8)
    p = score(8, P1=[60, 60, 60, 62, 62, 0, 64, 64], TR=[45] * 8)
    table = reconstruction_scores(np.stack([p, p]), np.stack([t, t]))
    assert list(table) == ["P1", "P2", "TR", "NO", "mean"]
    keys = set(RECONSTRUCTION_SCORES) | {"onsets_per_window", "true_onsets_per_window"}
    assert set(RECONSTRUCTION_SCORES) == {"onset_f1", "onset_f1_tol1", "onset_ratio", "pitch_accuracy_sounding",
                                          "note_accuracy", "loudness_ratio", "volume_error", "timbre_accuracy",
                                          "pitch_onset_f1_tol1", "pitch_onset_ratio", "reattack_f1_tol1",
                                          "reattack_ratio"}
    assert all(set(row) == keys for row in table.values())
    p1 = table["P1"]
    assert p1["onset_f1"] == pytest.approx(round(2 / 3, 4))  # 0 and 6 exact, 3 against 2: one frame late
    assert p1["onset_f1_tol1"] == 1.0
    assert p1["onset_ratio"] == 1.0
    assert p1["pitch_accuracy_sounding"] == pytest.approx(round(5 / 6, 4))  # frame 2: 60 for 62
    assert p1["note_accuracy"] == pytest.approx(0.75)
    assert p1["onsets_per_window"] == 3.0 and p1["true_onsets_per_window"] == 3.0  # per window, not summed
    # undefined values are None; a voice silent in both is a perfect F1 and zero onsets
    p2 = table["P2"]
    assert p2["onset_ratio"] is None and p2["pitch_accuracy_sounding"] is None
    assert p2["onset_f1"] == 1.0 and p2["note_accuracy"] == 1.0 and p2["onsets_per_window"] == 0.0
    assert p2["loudness_ratio"] is None and table["TR"]["loudness_ratio"] is None  # silent; no volume
    assert p1["loudness_ratio"] == 1.0 and p1["volume_error"] == 0.0
    # the mean over voices leaves undefined voices out
    mean = table["mean"]
    assert mean["onset_ratio"] == 1.0  # P1 and TR: both 1
    assert mean["pitch_accuracy_sounding"] == pytest.approx(round((5 / 6 + 1) / 2, 4))
    assert mean["onsets_per_window"] == pytest.approx((3 + 0 + 1 + 0) / 4)
    json.dumps(table, allow_nan=False)
    # a score nobody can define at all is None in the mean too
    silent = reconstruction_scores(score(8), score(8))
    assert silent["mean"]["onset_ratio"] is None and silent["mean"]["pitch_accuracy_sounding"] is None
    assert silent["mean"]["onset_f1"] == 1.0


def test_pitch_onsets_and_reattacks_are_scored_apart():
    """A decoder that merges a fast figure into one held note and re-attacks it instead keeps the total
    onset count right; the split shows it plays half the pitch onsets and twice the re-attacks."""
    notes_t = [60, 62, 60, 62, 60, 62, 60, 62]
    t = score(8, P1=(notes_t, [8] * 8))  # eight pitch onsets, no re-attack
    p = score(8, P1=([60, 62, 60, 62, 60, 60, 60, 60], [8, 8, 8, 8, 8, 4, 8, 8]))  # 5 pitch onsets, 1 re-attack
    table = reconstruction_scores(p, t)["P1"]
    assert table["pitch_onset_ratio"] == pytest.approx(5 / 8)
    assert table["pitch_onset_f1_tol1"] == pytest.approx(round(2 * 5 / (5 + 8), 4))
    assert table["reattack_ratio"] is None  # no true re-attacks to count against
    assert table["reattack_f1_tol1"] == 0.0  # one predicted, none true
    assert table["onset_ratio"] == pytest.approx(6 / 8)
    # re-attacks matched within one frame, like pitch onsets
    t2 = score(8, P1=([60] * 8, [8, 8, 4, 8, 8, 4, 8, 8]))
    p2 = score(8, P1=([60] * 8, [8, 8, 8, 4, 8, 8, 4, 8]))
    row = reconstruction_scores(p2, t2)["P1"]
    assert row["reattack_ratio"] == 1.0 and row["reattack_f1_tol1"] == 1.0 and row["pitch_onset_f1_tol1"] == 1.0


def test_loudness_ratio_volume_error_and_timbre_accuracy():
    """Loudness compares each one's mean volume over its own sounding frames; the volume error only the
    frames where the right note sounds. The triangle has neither."""
    t = score(8, P1=([60] * 4 + [0] * 4, [12, 10, 8, 6, 0, 0, 0, 0]), NO=([3] * 8, [9] * 8), TR=[45] * 8)
    p = score(8, P1=([60, 60, 61, 61, 61, 61, 0, 0], [6, 5, 4, 3, 3, 3, 0, 0]), NO=([3] * 8, [9] * 8), TR=[45] * 8)
    ratio, error = loudness_ratio(p, t), volume_error(p, t)
    assert ratio[P1] == pytest.approx((24 / 6) / (36 / 4))  # 4.0 against 9.0, whatever the notes
    assert error[P1] == pytest.approx((6 + 5) / 2)  # frames 0 and 1 play the right note
    assert ratio[NO] == 1.0 and error[NO] == 0.0
    assert np.isnan(ratio[TR]) and np.isnan(error[TR]) and np.isnan(ratio[P2]) and np.isnan(error[P2])
    assert np.isnan(volume_error(score(8, P1=[61] * 8), score(8, P1=[60] * 8))[P1])  # no right note
    t[:, P1, 2], p[:, P1, 2] = 2, [2, 1, 2, 2, 2, 2, 0, 0]
    assert timbre_accuracy(p, t)[P1] == 0.5  # of frames 0 and 1, where the note is right
    assert np.isnan(timbre_accuracy(p, t)[TR]) and np.isnan(timbre_accuracy(p, t)[P2])


def test_sounding_share():
    x = score(8, P1=[60] * 2 + [0] * 6, TR=[45] * 8)
    assert sounding_share(x).tolist() == [0.25, 0.0, 1.0, 0.0]
    assert sounding_share(np.stack([x, x])).tolist() == [0.25, 0.0, 1.0, 0.0]


# --- baselines ----------------------------------------------------------------------------------------

def test_hold_every_keeps_frames_0_k_2k():
    w = np.zeros((1, 10, 4, 3), np.uint8)
    w[0, :, :, 0] = (40 + np.arange(10))[:, None]
    w[0, :, :, 1] = (1 + np.arange(10))[:, None]
    held = hold_every(w, 3)
    assert held.shape == w.shape
    assert held[0, :, 0, 0].tolist() == [40, 40, 40, 43, 43, 43, 46, 46, 46, 49]
    assert held[0, :, 2, 1].tolist() == [1, 1, 1, 4, 4, 4, 7, 7, 7, 10]  # the whole cell is held
    assert np.array_equal(hold_every(w, 1), w)
    with pytest.raises(ValueError):
        hold_every(w, 0)


def music_of_notes_at_least_two_frames(n: int, frames: int, seed: int = 0) -> np.ndarray:
    """Windows whose notes and rests all last 2..6 frames, starting on any frame, neighbours differing."""
    rng = np.random.default_rng(seed)
    ranges = {P1: (48, 84), P2: (48, 84), TR: (33, 60), NO: (1, 16)}
    w = np.zeros((n, frames, 4, 3), np.uint8)
    for i in range(n):
        for v, (lo, hi) in ranges.items():
            lengths = []
            while sum(lengths) < frames:
                lengths.append(int(rng.integers(2, 7)))
            lengths[-1] -= sum(lengths) - frames
            if lengths[-1] < 2:  # a last note cut to one frame: join it to the one before
                lengths[-2] += lengths.pop()
            previous, start = -1, 0
            for length in lengths:
                note = previous
                while note == previous:
                    note = 0 if rng.random() < 0.2 else int(rng.integers(lo, hi + 1))
                w[i, start:start + length, v, 0] = note
                if v != TR and note > 0:
                    w[i, start:start + length, v, 1] = rng.integers(1, 16)  # one volume per note
                previous, start = note, start + length
    return w


def test_hold_every_2_finds_every_onset_of_notes_at_least_two_frames_long():
    w = music_of_notes_at_least_two_frames(40, 64)
    on = onsets(w)
    assert on[:, 1::2].any() and on[:, 2::2].any()  # onsets on odd frames as well as even ones
    f1 = onset_f1(hold_every(w, 2), w, 1)
    assert f1.tolist() == [1.0, 1.0, 1.0, 1.0]
    assert (onset_f1(hold_every(w, 2), w, 0) < 0.9).all()  # exact timing misses the odd frames
    f1_8 = onset_f1(hold_every(w, 8), w, 1)
    assert (f1_8 < 0.6).all()


def test_constant_note_holds_the_most_frequent_sounding_value():
    x = score(12, P1=([0] * 6 + [62] * 3 + [60] * 2 + [0], [0] * 6 + [9] * 3 + [10] * 2 + [0]),
              TR=[45] * 4 + [50] * 8, NO=([5, 5, 7, 7, 7, 5, 5, 5, 0, 0, 0, 0], [3, 3, 4, 4, 4, 3, 3, 3, 0, 0, 0, 0]))
    x[:, P1, 2] = 2
    x[:, P2, 2] = 1  # a silent voice's timbre
    out = constant_note(x[None])[0]
    assert out.shape == x.shape and out.dtype == x.dtype
    # P1: rests are the most frequent, but it holds the most frequent sounding (note, volume, timbre)
    assert (out[:, P1] == [62, 9, 2]).all()
    assert (out[:, P2] == [0, 0, 1]).all()  # silent stays silent (its own timbre)
    assert (out[:, TR] == [50, 0, 0]).all()
    assert (out[:, NO] == [5, 3, 0]).all()
    # per window
    stack = constant_note(np.stack([x, score(12, P2=[70] * 12)]))
    assert np.array_equal(stack[0], out) and (stack[1, :, P2, 0] == 70).all() and (stack[1, :, P1, 0] == 0).all()


def test_always_rest_is_silent():
    w = music_of_notes_at_least_two_frames(3, 16)
    rest = always_rest(w)
    assert rest.shape == w.shape and rest.dtype == w.dtype and not rest.any()
    assert sounding_share(rest).tolist() == [0.0] * 4


def test_reconstruction_baselines_and_costs():
    w = music_of_notes_at_least_two_frames(2, 10)
    out = reconstruction_baselines(w)
    assert {k: cost for k, (_, cost) in out.items()} == {
        "always_rest": 0, "constant_note": 4, "hold_every_2": 4 * 5, "hold_every_4": 4 * 3, "hold_every_8": 4 * 2}
    assert np.array_equal(out["always_rest"][0], always_rest(w))
    assert np.array_equal(out["constant_note"][0], constant_note(w))
    for k in (2, 4, 8):
        assert np.array_equal(out[f"hold_every_{k}"][0], hold_every(w, k))
    assert reconstruction_baselines(music_of_notes_at_least_two_frames(1, 64))["hold_every_4"][1] == 64


# --- per-step report ----------------------------------------------------------------------------------

def test_step_report_warns_about_a_silent_step():
    a = score(8, P1=[60] * 8, P2=[64] * 8)
    b = score(8, P1=[67] * 8, P2=[0] * 4 + [72] * 4)
    report = step_report(score(8), a, b)
    assert len(report["warnings"]) == 1 and "silent" in report["warnings"][0]
    assert report["sounding_share"] == {"P1": 0.0, "P2": 0.0, "TR": 0.0, "NO": 0.0}


def test_step_report_warns_about_a_voice_silent_although_both_inputs_play_it():
    a = score(8, P1=[60] * 8, P2=[64] * 8, TR=[45] * 8)
    b = score(8, P1=[67] * 8, P2=[0] * 4 + [72] * 4)  # TR only in A
    step = score(8, P1=[60] * 4 + [67] * 4)  # P2 and TR silent
    report = step_report(step, a, b)
    assert len(report["warnings"]) == 1 and "P2" in report["warnings"][0]  # not TR: B has none
    assert report["onsets_per_window"] == {"P1": 2.0, "P2": 0.0, "TR": 0.0, "NO": 0.0}
    assert report["sounding_share"]["P1"] == 1.0


def test_step_report_of_a_normal_step_has_no_warnings():
    a = score(16, P1=[60] * 16, P2=[64] * 16)
    b = score(16, P1=[67] * 16, P2=[72] * 16)
    step = score(16, P1=[60] * 8 + [67] * 8, P2=[64, 72] * 8)
    report = step_report(step, a, b)
    assert report["warnings"] == []
    assert "realism" not in report
    # onsets per window: the step cut into windows of 8 frames
    assert step_report(step, a, b, window=8)["onsets_per_window"] == {"P1": 1.0, "P2": 8.0, "TR": 0.0, "NO": 0.0}


# --- interpolation report -----------------------------------------------------------------------------

def small_reference(frames: int = 16) -> RealismReference:
    return RealismReference.from_windows(music_of_notes_at_least_two_frames(60, frames, seed=5))


def test_interpolation_report_with_equal_endpoints_is_strict_json():
    a = score(16, P1=[60] * 8 + [62] * 8)
    path = [a, a, a]
    report = interpolation_report(path, a, a, small_reference())
    assert report["step_smoothness"] is None and report["step_smoothness_reason"]
    assert report["monotonicity_violations"] == 0
    assert report["endpoint_distance_a"] == [0.0, 0.0, 0.0]
    text = json.dumps(report, allow_nan=False)  # no NaN anywhere
    assert json.loads(text) == report
    # the same without inputs or reference
    json.dumps(interpolation_report([a[..., 0]] * 3), allow_nan=False)
    # a path that moves has a smoothness and no reason
    b = score(16, P1=[64] * 16)
    moving = interpolation_report(crossfade_path(a, b, 5, np.random.default_rng(0)))
    assert moving["step_smoothness"] is not None and "step_smoothness_reason" not in moving


def test_interpolation_report_realism_per_step_against_a_reference():
    ref = small_reference(16)
    windows = music_of_notes_at_least_two_frames(4, 16, seed=9)
    a, b = np.concatenate(windows[:2]), np.concatenate(windows[2:])  # steps of two windows of 16 frames
    path = crossfade_path(a, b, 5, np.random.default_rng(0))
    report = interpolation_report(path, a, b, ref, window=16)
    steps = report["steps"]
    assert len(steps) == 5 and all("realism" in s and "realism_voices" in s for s in steps)
    for step, s in zip(path, steps):
        mean, per_voice = typicality(step.reshape(2, 16, 4, 3), ref)
        assert s["realism"] == pytest.approx(mean.mean(), abs=1e-4)
        assert set(s["realism_voices"]) == {"P1", "P2", "TR", "NO"}
    assert report["realism"] == pytest.approx(np.mean([s["realism"] for s in steps[1:-1]]), abs=1e-4)
    assert report["realism_reference"] == {"real_windows_typicality": round(ref.typicality, 4),
                                           "corpus_windows": 60}
    assert set(report["reconstruction_a"]) == set(report["reconstruction_b"]) == {"P1", "P2", "TR", "NO", "mean"}
    assert report["reconstruction_a"]["mean"]["onset_f1"] == 1.0  # the path starts at A itself
    assert len(report["pitch_class_morph_steps"]) == 5
    json.dumps(report, allow_nan=False)
    # without a reference: no realism; without inputs: no reconstruction
    plain = interpolation_report(path)
    assert "realism" not in plain and "realism_reference" not in plain and "realism" not in plain["steps"][2]
    assert "reconstruction_a" not in plain and "reconstruction_b" not in plain
    assert "reconstruction_a" not in interpolation_report(path, a=a)


def test_interpolation_report_warns_per_step():
    a = score(8, P1=[60] * 8)
    b = score(8, P1=[67] * 8)
    report = interpolation_report([a, score(8), b], a, b)
    assert [len(s["warnings"]) for s in report["steps"]] == [0, 1, 0]
    assert "silent" in report["steps"][1]["warnings"][0]


# --- pitch classes ------------------------------------------------------------------------------------

def test_pitch_class_histogram_counts_melodic_voices_only():
    w = np.zeros((12, 4), np.uint8)
    w[:6, 0] = 60   # C
    w[6:, 0] = 72   # C an octave up
    w[:6, 1] = 64   # E
    w[:6, 2] = 43   # G
    w[:, 3] = 5     # noise: not a pitch
    h = pitch_class_histogram(w)
    assert h.shape == (12,) and h.sum() == pytest.approx(1.0)
    assert h[[0, 4, 7]].tolist() == pytest.approx([0.5, 0.25, 0.25])
    assert pitch_class_histogram(np.zeros((2, 12, 4, 3), np.uint8)).tolist() == [[0.0] * 12] * 2
    np.testing.assert_array_equal(pitch_class_histogram(np.stack([w, w])), np.stack([h, h]))
    with pytest.raises(ValueError):
        pitch_class_histogram(np.zeros(12, np.uint8))


def mixture_path(steps: int = 8, frames: int = 70) -> list[np.ndarray]:
    """Step k: the first frames * (1 - t_k) frames C (60), the rest G (67): an exact histogram mixture."""
    path = []
    for k in range(steps):
        w = np.zeros((frames, 4), np.uint8)
        split = frames - k * frames // (steps - 1)
        w[:split, 0], w[split:, 0] = 60, 67
        path.append(w)
    return path


def test_pitch_class_morph_exact_mixture_and_abrupt_switch():
    exact = pitch_class_morph(mixture_path())
    assert exact.shape == (8,) and exact == pytest.approx(np.ones(8))
    a, b = mixture_path()[0], mixture_path()[-1]
    abrupt = pitch_class_morph([a] * 4 + [b] * 4)
    assert abrupt[0] == pytest.approx(1.0) and abrupt[-1] == pytest.approx(1.0)
    # step 3 is still all A against the mixture 4/7 A + 3/7 B: cosine 4 / 5
    assert abrupt[3] == pytest.approx(0.8) and abrupt[1] == pytest.approx(6 / np.sqrt(37))
    assert abrupt[1:-1].mean() < exact[1:-1].mean() - 0.05
    # a path of stacks: (steps, n, frames, 4) -> (steps, n)
    stacked = pitch_class_morph(np.stack([np.stack([x, y]) for x, y in zip(mixture_path(), [a] * 4 + [b] * 4)]))
    np.testing.assert_allclose(stacked, np.stack([exact, abrupt], axis=1))
    silent = np.zeros((70, 4), np.uint8)
    assert pitch_class_morph([silent, silent, silent]).tolist() == [1.0, 1.0, 1.0]
    assert pitch_class_morph([a, silent, b])[1] == 0.0  # silence where a mixture of sound was due
    with pytest.raises(ValueError):
        pitch_class_morph([a])


def test_report_has_pitch_class_morph():
    report = interpolation_report(mixture_path(5, 40))
    assert report["pitch_class_morph"] == pytest.approx(1.0) and len(report["pitch_class_morph_steps"]) == 5
    a = mixture_path()[0]
    assert interpolation_report([a, a])["pitch_class_morph"] is None


def test_the_ramp_of_a_notes_attack_is_one_onset_wherever_it_starts():
    from nesinterp.metrics import onsets

    w = np.zeros((6, 4, 3), np.uint8)
    w[0:3, 0] = [[60, 5, 0], [60, 10, 0], [60, 10, 0]]
    assert np.flatnonzero(onsets(w)[:, 0]).tolist() == [0]
    w[3:6, 0] = [[62, 4, 0], [62, 9, 0], [62, 15, 0]]  # a new pitch, quieter, then ramping up
    assert np.flatnonzero(onsets(w)[:, 0]).tolist() == [0, 3]


def test_step_report_of_a_step_shorter_than_the_window():
    from nesinterp.metrics import RealismReference, step_report

    rng = np.random.default_rng(0)
    corpus = np.zeros((50, 32, 4, 3), np.uint8)
    corpus[..., 0, 0] = rng.integers(60, 72, (50, 32))
    corpus[..., 0, 1] = rng.integers(1, 16, (50, 32))
    report = step_report(corpus[0], corpus[0], corpus[0], RealismReference.from_windows(corpus), window=64)
    assert 0 <= report["realism"] <= 1
