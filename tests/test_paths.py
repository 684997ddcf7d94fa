"""Path scores on what a listener hears (nesinterp.metrics.paths) and bootstrap intervals over songs
(nesinterp.metrics.intervals), proved on constructed paths whose answers are known."""

import numpy as np
import pytest

from nesinterp.metrics import crossfade_path
from nesinterp.metrics.intervals import bootstrap_weights, group_mean_interval, group_sums, interval, resample
from nesinterp.metrics.paths import listener_distance, path_report, path_scores, switch_path

STEPS, REGION = 8, 6


def region_window(pitches) -> np.ndarray:
    """A window of len(pitches) regions of REGION frames, each one held note on every voice but the
    triangle's volume (volume 8, duty 2)."""
    notes = np.repeat(np.asarray(pitches, np.uint8), REGION)
    w = np.zeros((len(notes), 4, 3), np.uint8)
    for v in range(4):
        w[:, v, 0] = notes if v != 3 else (notes % 16) + 1
        w[:, v, 1] = 8 if v != 2 else 0
        w[:, v, 2] = 2 if v != 2 else 0
    return w


def steady_morph() -> np.ndarray:
    """(steps, 1, frames, 4, 3): step k plays B's first k regions and A's others, every region an
    equal part of the way."""
    a = [40 + 2 * j for j in range(STEPS - 1)]
    b = [61 + 2 * j for j in range(STEPS - 1)]
    return np.stack([region_window(b[:k] + a[k:]) for k in range(STEPS)])[:, None]


def test_listener_distance_basics():
    a = region_window([40, 42, 44, 46])
    assert listener_distance(a, a) == 0
    silent = np.zeros_like(a)
    assert listener_distance(silent, silent) == 0
    assert listener_distance(a, silent) == pytest.approx(0.8)  # every note missing; no expression to compare
    louder = a.copy()
    louder[..., 1] = np.where(louder[..., 1] > 0, 15, 0)
    # notes and onsets the same (a volume rising at frame 0 adds no re-attack): only the lighter term moves
    assert 0 < listener_distance(a, louder) < 0.2
    one_late = np.concatenate([a[:1], a[:-1]])  # every onset a frame late: matched within +-1
    assert listener_distance(a, one_late) < listener_distance(a, region_window([41, 43, 45, 47]))
    # broadcast over stacks: (2, frames, 4, 3) against one window
    assert listener_distance(np.stack([a, silent]), a).shape == (2,)


def test_steady_morph_scores_zero_linearity_and_backward():
    scores = path_scores(steady_morph())
    assert scores["linearity_error"][0] == pytest.approx(0, abs=1e-9)
    assert scores["backward_movement"][0] == pytest.approx(0, abs=1e-9)
    assert scores["first_step_share"][0] == pytest.approx(1 / (STEPS - 1))
    assert scores["last_step_share"][0] == pytest.approx(1 / (STEPS - 1))
    assert np.isnan(scores["worst_step_typicality"][0])  # no reference given


def test_switch_scores_large_linearity_and_zero_end_shares():
    path = steady_morph()
    switch = np.stack(switch_path(path[0], path[-1], STEPS))
    scores = path_scores(switch)
    assert scores["linearity_error"][0] == pytest.approx(np.mean([1, 2, 3, 3, 2, 1]) / 7)  # 0.286
    assert scores["backward_movement"][0] == 0
    assert scores["first_step_share"][0] == 0 and scores["last_step_share"][0] == 0


def test_a_path_that_goes_back_has_backward_movement():
    path = steady_morph()
    back = path[[0, 1, 2, 4, 3, 5, 6, 7]]  # two steps swapped: the path returns towards A for one step
    scores = path_scores(back)
    assert scores["backward_movement"][0] > 0.2
    assert scores["linearity_error"][0] > 0
    # a leap from A: the first step goes three regions of the way
    leap = path[[0, 3, 4, 5, 6, 6, 7, 7]]
    assert path_scores(leap)["first_step_share"][0] == pytest.approx(3 / 7)


def test_undefined_when_the_endpoints_sound_alike():
    a = region_window([40, 42])
    same = np.stack([a, a, a])[:, None]
    scores = path_scores(same)
    assert all(np.isnan(scores[k][0]) for k in ("linearity_error", "backward_movement", "first_step_share"))
    report = path_report([a, a, a])
    assert report["backward_movement"] is None


def test_crossfade_is_near_linear_and_never_far_back():
    a, b = region_window([40, 42, 44, 46, 48, 50, 52, 54]), region_window([61, 63, 65, 67, 69, 71, 73, 75])
    rng = np.random.default_rng(0)
    stack = np.stack([np.stack(crossfade_path(a, b, STEPS, rng)) for _ in range(16)], axis=1)
    scores = path_scores(stack)
    assert np.mean(scores["linearity_error"]) < 0.15
    assert np.mean(scores["backward_movement"]) < 0.3


def test_bootstrap_resamples_groups_and_covers_the_mean():
    w = bootstrap_weights(5, replicates=200, seed=1)
    assert w.shape == (200, 5) and np.all(w.sum(axis=1) == 5)
    # items of one group move together: a group of identical values contributes as one
    values = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 3.0, 4.0])
    group = np.array([0, 0, 0, 1, 1, 2, 3, 4])
    sums = group_sums(values, group, 5)
    assert sums.tolist() == [0, 2, 2, 3, 4]
    assert resample(np.eye(5)[[1, 1]], sums).tolist() == [2, 2]
    lo, hi = group_mean_interval(values, group, w)
    assert lo < values.mean() < hi
    # the same items with no between-song spread have no interval width
    lo, hi = group_mean_interval(np.ones(8), group, w)
    assert lo == hi == 1
    # an undefined figure stays undefined
    assert np.isnan(interval(np.full((10, 2), np.nan))).all()


def test_realism_from_grouped_counts_equals_the_set_score():
    """Per-song histogram counts summed give the set's own realism, so bootstrap replicates can be
    scored from weighted counts alone."""
    from nesinterp.metrics.realism import RealismReference, realism, realism_scores, window_features

    rng = np.random.default_rng(3)
    real = np.stack([region_window(rng.integers(40, 70, 8)) for _ in range(40)])
    real[::3, :, 0, 0] = 0  # some silent pulses, so "undefined" counts too
    reference = RealismReference.from_windows(real[:30])
    sample, group = real[30:], np.array([0, 0, 1, 1, 1, 2, 2, 3, 3, 3])
    counts = reference.bin_counts(window_features(sample), group, 4)
    assert counts.shape[0] == 4
    np.testing.assert_array_equal(counts.sum(axis=0), reference.bin_counts(window_features(sample)))
    overlap = reference.overlap_from_counts(counts.sum(axis=0))
    assert realism_scores(overlap) == pytest.approx(realism(sample, reference)["score"], abs=1e-4)
    assert realism_scores(overlap, per_voice=True)[0] == pytest.approx(realism(sample, reference)["voices"]["P1"],
                                                                      abs=1e-4)
