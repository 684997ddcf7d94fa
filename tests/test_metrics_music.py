import numpy as np
import pytest

from nesinterp.metrics import (
    cell_distance, endpoint_curves, interpolation_report, monotonicity_violations, step_smoothness,
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
