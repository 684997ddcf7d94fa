import numpy as np
import pytest

from nesinterp.metrics import (
    cell_distance, endpoint_curves, interpolation_report, monotonicity_violations, step_smoothness,
)
from nesinterp.metrics.music import (
    VOICE_FEATURES, corpus_ranges, pitch_class_histogram, pitch_class_morph, realism, voice_statistics,
    within_ranges,
)


def crossfade(a, b, steps, seed=0):
    """Data-space crossfade: each cell of step k from B with probability t_k (nested, so monotone)."""
    u = np.random.default_rng(seed).random(a.shape)
    return [np.where(u < k / (steps - 1), b, a) for k in range(steps)]


def test_even_crossfade_is_monotone_and_smooth():
    a = np.full((64, 4), 60, np.uint8)
    b = np.full((64, 4), 70, np.uint8)
    path = crossfade(a, b, 8)
    d_a, d_b = endpoint_curves(path)
    assert d_a[0] == 0 and d_a[-1] == 1 and d_b[-1] == 0
    assert monotonicity_violations(path) == 0
    assert step_smoothness(path) < 0.1


def test_abrupt_switch_scores_near_one():
    a = np.full((64, 4), 60, np.uint8)
    b = np.full((64, 4), 70, np.uint8)
    path = [a] * 4 + [b] * 4
    assert step_smoothness(path) == pytest.approx(1 - 1 / 7)
    assert monotonicity_violations([a, b, a, b]) > 0
    assert np.isnan(step_smoothness([a, a, a]))


def test_report_accepts_score_arrays():
    a = np.zeros((16, 4, 3), np.uint8)
    b = a.copy()
    b[:, 0, 0] = 60
    report = interpolation_report([a, b], a, b)
    assert report["reconstruction_accuracy_a"] == 1.0 and report["endpoint_distance_a"] == [0.0, 0.25]
    assert cell_distance(a, b) == 0.25


def test_note_accuracy_and_onset_f1():
    from nesinterp.metrics import note_accuracy, onset_f1, onsets

    t = np.zeros((8, 4), np.uint8)
    t[0:4, 0] = 60
    t[4:8, 0] = 62
    p = t.copy()
    p[4:8, 0] = 60  # one note held too long: onset at 4 missed
    assert note_accuracy(p, t).tolist() == [0.5, 1.0, 1.0, 1.0]
    assert onsets(t)[:, 0].tolist() == [True, False, False, False, True, False, False, False]
    f1 = onset_f1(p, t)
    assert f1[0] == pytest.approx(2 * 1.0 * 0.5 / 1.5) and f1[1] == 1.0  # silent voice: nothing to find


def test_crossfade_path_is_monotone():
    from nesinterp.metrics import crossfade_path

    a = np.full((32, 4, 3), 0, np.uint8)
    b = np.full((32, 4, 3), 1, np.uint8)
    path = crossfade_path(a, b, 6, np.random.default_rng(0))
    assert monotonicity_violations(path) == 0 and np.array_equal(path[0], a) and np.array_equal(path[-1], b)
    # whole (note, velocity, timbre) cells switch together
    assert all(np.all(p.min(axis=2) == p.max(axis=2)) for p in path)


# --- voice statistics and realism -------------------------------------------------------------------

F = {name: i for i, name in enumerate(VOICE_FEATURES)}


def known_window() -> np.ndarray:
    """48 frames (2 s): P1 three notes with a rest, P2 silent, TR one held note, NO a new note every frame."""
    w = np.zeros((48, 4), np.uint8)
    w[0:12, 0], w[12:24, 0], w[30:36, 0] = 60, 62, 64
    w[:, 2] = 45
    w[:, 3] = np.where(np.arange(48) % 2, 5, 6)
    return w


def test_voice_statistics_of_a_known_window():
    s = voice_statistics(known_window()[None])
    assert s.shape == (1, 4, len(VOICE_FEATURES))
    p1, p2, tr, no = s[0]
    assert p1[F["note_density"]] == pytest.approx(1.5)  # 3 onsets in 2 s
    assert p1[F["sounding_share"]] == pytest.approx(30 / 48)
    assert p1[F["pitch_range"]] == 4 and p1[F["pitch_mean"]] == pytest.approx((12 * 60 + 12 * 62 + 6 * 64) / 30)
    assert p1[F["note_length"]] == pytest.approx(30 / 3 / 24)
    assert p2[F["note_density"]] == 0 and p2[F["sounding_share"]] == 0
    assert np.isnan(p2[[F["pitch_range"], F["pitch_mean"], F["note_length"]]]).all()
    assert tr.tolist() == pytest.approx([0.5, 1.0, 0.0, 45.0, 2.0])
    assert no[F["note_density"]] == pytest.approx(24.0) and no[F["note_length"]] == pytest.approx(1 / 24)
    # scores (n, T, 4, 3) give the same as notes; one window without the stack axis too
    score = np.zeros((1, 48, 4, 3), np.uint8)
    score[..., 0] = known_window()
    np.testing.assert_array_equal(voice_statistics(score), s)
    np.testing.assert_array_equal(voice_statistics(known_window()), s[0])


def corpus_window(length: int, base: int, p2_silent: bool = False, frames: int = 96) -> np.ndarray:
    """Notes of ``length`` frames cycling up a scale from ``base`` (P1, P2 an octave lower), a bass line on
    TR and alternating noise, all changing every ``length`` frames."""
    k = np.arange(frames) // length
    w = np.zeros((frames, 4), np.uint8)
    w[:, 0] = base + np.array([0, 2, 4, 5, 7])[k % 5]
    w[:, 1] = 0 if p2_silent else base - 12 + np.array([0, 4, 7])[k % 3]
    w[:, 2] = base - 24 + np.array([0, 7])[k % 2]
    w[:, 3] = np.array([3, 8])[k % 2]
    return w


def corpus(silent_every: int | None = None, n: int = 600, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lengths, bases = rng.integers(2, 15, n), rng.integers(48, 73, n)
    return np.stack([corpus_window(int(length), int(base), silent_every is not None and i % silent_every == 0)
                     for i, (length, base) in enumerate(zip(lengths, bases))])


def test_realism_median_window_is_inside_and_absurd_window_outside():
    ranges = corpus_ranges(voice_statistics(corpus()))
    assert ranges.shape == (4, len(VOICE_FEATURES), 2) and np.all(ranges[..., 0] <= ranges[..., 1])
    share, inside = realism(voice_statistics(corpus_window(8, 60)[None]), ranges)
    assert share == 1.0 and inside.shape == (4, len(VOICE_FEATURES)) and inside.min() == 1.0

    absurd = np.zeros((96, 4), np.uint8)
    absurd[:, :3] = np.where(np.arange(96) % 2, 108, 107)[:, None]  # top of the range, 24 onsets/s
    absurd[:, 3] = np.where(np.arange(96) % 2, 16, 15)
    share, inside = realism(voice_statistics(absurd[None]), ranges)
    assert share == 0.0
    assert inside[:, F["note_density"]].tolist() == [0, 0, 0, 0]
    assert inside[:3, F["pitch_mean"]].tolist() == [0, 0, 0]


def test_realism_of_the_corpus_itself_is_about_its_percentile_band():
    stats = voice_statistics(corpus())
    share, inside = realism(stats, corpus_ranges(stats))
    # a spread-out feature: about 90 % inside its own 5-95 % range (ties at the bounds count inside)
    assert 0.85 <= inside[0, F["pitch_mean"]] <= 0.97
    assert 0.5 < share <= inside.min()
    assert np.isnan(realism(stats[:0], corpus_ranges(stats))[0])


def test_silent_voice_is_realistic_only_where_the_corpus_has_it_silent():
    window = voice_statistics(corpus_window(8, 60, p2_silent=True)[None])
    assert np.isnan(window[0, 1, F["pitch_mean"]])
    often_silent = corpus_ranges(voice_statistics(corpus(silent_every=5)))  # P2 silent in 20 % of windows
    never_silent = corpus_ranges(voice_statistics(corpus()))
    assert np.isfinite(often_silent).all()  # NaN (silence) is left out of the percentiles
    assert within_ranges(window, often_silent)[0, 1].all()
    assert realism(window, often_silent)[0] == 1.0
    inside = within_ranges(window, never_silent)[0, 1]
    assert not inside.any()  # silence and every undefined statistic of the silent voice: outside
    assert realism(window, never_silent)[0] == 0.0
    # a voice the corpus never plays: its pitch ranges are NaN, and a sounding window is outside
    no_p2 = corpus_ranges(voice_statistics(corpus(silent_every=1)))
    assert np.isnan(no_p2[1, F["pitch_mean"]]).all()
    assert not within_ranges(voice_statistics(corpus_window(8, 60)[None]), no_p2)[0, 1].any()
    assert within_ranges(window, no_p2)[0, 1].all()


# --- pitch classes -----------------------------------------------------------------------------------

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


def test_report_has_pitch_class_morph():
    report = interpolation_report(mixture_path(5, 40))
    assert report["pitch_class_morph"] == pytest.approx(1.0) and len(report["pitch_class_morph_steps"]) == 5
    a = mixture_path()[0]
    assert interpolation_report([a, a])["pitch_class_morph"] is None


def test_interpolation_report_judges_realism_per_window_against_given_ranges():
    from nesinterp.metrics.music import (
        corpus_ranges, interpolation_report, ranges_from_dict, ranges_to_dict, voice_statistics,
    )

    rng = np.random.default_rng(3)
    corpus = rng.integers(40, 80, size=(200, 32, 4)).astype(np.uint8)
    corpus[..., 3] = rng.integers(1, 17, size=(200, 32))
    ranges = corpus_ranges(voice_statistics(corpus))
    assert np.allclose(ranges_from_dict(ranges_to_dict(ranges)), ranges, atol=1e-6, equal_nan=True)
    real, absurd = corpus[0], np.full((32, 4), 108, np.uint8)
    # a step of two windows: one like the corpus, one absurd -> half of it is realistic
    path = [np.concatenate([real, real]), np.concatenate([real, absurd]), np.concatenate([absurd, absurd])]
    report = interpolation_report(path, realism_ranges=ranges, window=32)
    assert report["realism_steps"][1] == 0.5 and report["realism_steps"][2] == 0.0
    assert report["realism"] == 0.5
    assert "realism" not in interpolation_report(path)
