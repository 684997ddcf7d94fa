"""Interpolation paths scored on what a listener hears (docs/scores.md, section 2).

The cell distance (share of (frame, voice) cells whose note differs) counts a one-cell wobble as much as
a reversal and sees neither onsets nor loudness. ``listener_distance`` compares two windows by their
note events instead: per voice, the onsets that do not find a partner within +-1 frame with the same
pitch (1 - onset F1), the frames where either sounds and the pitch differs, and, as a lighter second
term, the volume and timbre where both sound. On it, a path x_0 .. x_{K-1} from A to B gets:

- **linearity error**: the mean over inner steps of |d_A / (d_A + d_B) - t_k|, how far each step's
  position between the ends is from where it should be (0 for a steady morph, about 0.25 for a switch);
- **backward movement**: how far d_A falls and d_B rises in total, over d(A, B) (0 for a path that never
  turns back; magnitude-weighted, so a one-cell wobble costs little and a reversal much);
- **end-step shares**: the first and the last step's distance over d(A, B), 1 / (K - 1) for even steps
  (a path that leaps away from A and lands on B scores high, an abrupt switch 0);
- **worst step**: the lowest typicality (``realism.typicality``) of an inner step: one broken step is
  heard, however real the others.

Everything is vectorised over stacks of paths (steps, pairs, frames, 4, 3).
"""

from __future__ import annotations

import numpy as np

from ..jsonio import rounded
from ..score import note_events
from .music import ONSET_TOLERANCE, _matched
from .realism import RealismReference, typicality

NOTE_WEIGHT = 0.8  # onsets and sounding pitch, equally; volume and timbre share the rest
MAX_VOLUME = 15.0
PATH_SCORES = ("linearity_error", "backward_movement", "first_step_share", "last_step_share",
               "worst_step_typicality")


def listener_distance(x, y) -> np.ndarray:
    """Distance in [0, 1] between windows x and y (..., frames, 4, 3), broadcast over leading axes: per
    voice NOTE_WEIGHT x the mean of (1 - onset F1 within +-1 frame, pitch matched; any noise index for
    NO) and (the share of frames where either sounds with a differing note), plus the rest x the mean
    of (|volume difference| / 15) and (timbre differs) over the frames where both sound (none on the
    triangle), averaged over the voices that sound in either window; 0 when neither sounds."""
    x, y = np.broadcast_arrays(np.asarray(x), np.asarray(y))
    xn, yn = x[..., 0], y[..., 0]
    xo, yo = note_events(x)[0], note_events(y)[0]
    matched = _matched(xo, yo, xn, yn, ONSET_TOLERANCE)[-1]
    events = xo.sum(axis=-2) + yo.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        onset = np.where(events > 0, 1 - 2 * matched / np.maximum(events, 1), 0.0)
        either, both = (xn > 0) | (yn > 0), (xn > 0) & (yn > 0)
        n_either, n_both = either.sum(axis=-2), both.sum(axis=-2)
        pitch = np.where(n_either > 0, ((xn != yn) & either).sum(axis=-2) / np.maximum(n_either, 1), 0.0)
        volume = np.abs(x[..., 1].astype(np.float64) - y[..., 1]) / MAX_VOLUME
        timbre = x[..., 2] != y[..., 2]
        expression = np.where(n_both > 0, ((volume + timbre) / 2 * both).sum(axis=-2) / np.maximum(n_both, 1), 0.0)
    expression[..., 2] = 0.0  # the triangle has neither
    voice = NOTE_WEIGHT * (onset + pitch) / 2 + (1 - NOTE_WEIGHT) * expression
    sounds = n_either > 0
    return np.where(sounds.any(axis=-1), (voice * sounds).sum(axis=-1) / np.maximum(sounds.sum(axis=-1), 1), 0.0)


def switch_path(a, b, steps: int) -> list[np.ndarray]:
    """The abrupt-switch baseline: A until t = 0.5, then B (t_k = k / (K - 1); a step at exactly 0.5 is B)."""
    return [np.asarray(a) if k / (steps - 1) < 0.5 else np.asarray(b) for k in range(steps)]


def path_scores(stack, reference: RealismReference | None = None) -> dict[str, np.ndarray]:
    """Per path (pairs,) the PATH_SCORES of paths stacked (steps, pairs, frames, 4, 3), each from the
    path's own endpoints; NaN where undefined (endpoints that sound alike: d(A, B) = 0), and
    worst_step_typicality only with a ``reference`` (NaN without, and for paths without inner steps)."""
    x = np.asarray(stack)
    steps = len(x)
    if steps < 2:
        raise ValueError("a path needs at least its two endpoints")
    d_a, d_b = listener_distance(x, x[:1]), listener_distance(x, x[-1:])  # (steps, pairs)
    step = listener_distance(x[1:], x[:-1])  # (steps - 1, pairs)
    total = d_a[-1]
    t = np.linspace(0.0, 1.0, steps)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        position = np.where(d_a + d_b > 0, d_a / np.maximum(d_a + d_b, 1e-300), np.nan)
        if steps > 2:
            inner = np.abs(position - t)[1:-1]
            defined = np.isfinite(inner)
            linearity = np.where(defined.any(axis=0), np.where(defined, inner, 0).sum(axis=0)
                                 / np.maximum(defined.sum(axis=0), 1), np.nan)
        else:
            linearity = np.full(x.shape[1], np.nan)
        back = np.maximum(-np.diff(d_a, axis=0), 0).sum(axis=0) + np.maximum(np.diff(d_b, axis=0), 0).sum(axis=0)
        undefined = total <= 0
        out = {"linearity_error": np.where(undefined, np.nan, linearity),
               "backward_movement": np.where(undefined, np.nan, back / np.maximum(total, 1e-300)),
               "first_step_share": np.where(undefined, np.nan, step[0] / np.maximum(total, 1e-300)),
               "last_step_share": np.where(undefined, np.nan, step[-1] / np.maximum(total, 1e-300))}
    worst = np.full(x.shape[1], np.nan)
    if reference is not None and steps > 2:
        inner_steps = x[1:-1]
        typical = typicality(inner_steps.reshape(-1, *x.shape[2:]), reference)[0].reshape(steps - 2, -1)
        worst = typical.min(axis=0)
    out["worst_step_typicality"] = worst
    return out


def path_report(path, reference: RealismReference | None = None) -> dict:
    """PATH_SCORES of one path (a list of windows, or of equally long scores cut into one window each),
    as plain numbers (None where undefined): what ``interpolation_report`` adds for a blend."""
    stack = np.stack([np.asarray(w) for w in path])[:, None]
    return {k: rounded(v[0]) for k, v in path_scores(stack, reference).items()}
