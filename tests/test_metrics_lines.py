"""The lines benchmark's metric on constructed interpolations, against evaluation.md's reference values
(perfect interpolation ~2e-7 / ~0, pixel crossfade 7.2e-3 / 0.94, abrupt switch 2.5e-7 / 0.93)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nesinterp.images import lines_reference, render_lines
from nesinterp.metrics.lines import closest_lines, even_angles, interpolation_smoothness, lines_scores

PAIRS, STEPS = 96, 16


@pytest.fixture(scope="module")
def reference():
    return lines_reference()


@pytest.fixture(scope="module")
def pairs():
    theta = np.random.default_rng(7).uniform(0, 2 * math.pi, 2 * PAIRS)
    return theta[:PAIRS], theta[PAIRS:]


def test_closest_line_finds_the_angle_of_a_clean_line(reference):
    ref, ref_theta = reference
    theta = np.array([0.0, 1.0, 2.5, 6.0])
    distance, found = closest_lines(render_lines(theta), ref, ref_theta)
    assert distance.shape == (4,) and distance.dtype == torch.float64
    assert float(distance.max()) < 1e-5
    assert np.allclose(found.numpy(), theta, atol=2 * math.pi / 10000)
    # a reference image itself is at distance 0 (float64: no float32 noise floor)
    d0, t0 = closest_lines(ref[123:124], ref, ref_theta)
    assert float(d0[0]) < 1e-12 and float(t0[0]) == ref_theta[123]


def test_perfect_interpolation_scores_near_zero(reference, pairs):
    a, b = pairs
    images = render_lines(even_angles(a, b, STEPS).ravel()).reshape(PAIRS, STEPS, 1, 32, 32)
    scores = lines_scores(images, *reference)
    assert scores["mean_distance"] < 1e-6  # reference ~2e-7
    # only the reference grid's quantisation (2 pi / 10000 per angle) is left
    assert scores["smoothness"] < 2e-3 and scores["undefined"] == 0


def test_pixel_crossfade_is_off_the_line_manifold_and_abrupt(reference, pairs):
    a, b = pairs
    ia, ib = render_lines(a)[:, None], render_lines(b)[:, None]
    t = np.linspace(0, 1, STEPS).reshape(1, STEPS, 1, 1, 1)
    scores = lines_scores((1 - t) * ia + t * ib, *reference)
    assert 4e-3 < scores["mean_distance"] < 1e-2  # reference 7.2e-3
    assert scores["smoothness"] > 0.75  # reference 0.94


def test_abrupt_switch_looks_real_but_is_not_smooth(reference, pairs):
    a, b = pairs
    ia, ib = render_lines(a)[:, None], render_lines(b)[:, None]
    t = np.linspace(0, 1, STEPS).reshape(1, STEPS, 1, 1, 1)
    scores = lines_scores(np.where(t < 0.5, ia, ib), *reference)
    assert scores["mean_distance"] < 1e-6  # reference 2.5e-7
    assert scores["smoothness"] == pytest.approx(1 - 1 / 15, abs=1e-3)  # reference 0.93


def test_smoothness_unwraps_and_marks_static_paths_undefined():
    even = np.linspace(6.0, 6.0 + 0.9, STEPS) % (2 * math.pi)  # crosses 2 pi: unwrapping makes it even
    static = np.full(STEPS, 1.0)
    jump = np.r_[np.zeros(8), np.ones(8)]
    s = interpolation_smoothness(np.stack([even, static, jump]))
    assert abs(s[0]) < 1e-9 and np.isnan(s[1]) and s[2] == pytest.approx(1 - 1 / 15)
    # an undefined interpolation counts as 0 in the score but still counts in the denominator
    ref = render_lines(np.array([0.5]))
    static_images = np.repeat(ref[None], STEPS, axis=1).repeat(2, axis=0)  # (2, 16, 1, 32, 32)
    scores = lines_scores(static_images, ref, np.array([0.5]))
    assert scores["undefined"] == 2 and scores["smoothness"] == 0.0
