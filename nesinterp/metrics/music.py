"""Objective scores of a music interpolation path x_0 .. x_{K-1} between endpoints A and B
(../shared/docs/evaluation.md, section 3), on note arrays (frames, 4) or stacks of them.
"""

from __future__ import annotations

import numpy as np


def _notes(x) -> np.ndarray:
    x = np.asarray(x)
    return x[..., 0] if x.ndim >= 3 and x.shape[-1] == 3 else x


def cell_distance(x, y) -> float:
    """Fraction of (frame, voice) cells whose note differs."""
    return float(np.mean(_notes(x) != _notes(y)))


def endpoint_curves(path) -> tuple[np.ndarray, np.ndarray]:
    """d_A(k), d_B(k): distance of each step to the first and the last step."""
    path = [_notes(x) for x in path]
    return (np.array([cell_distance(x, path[0]) for x in path]),
            np.array([cell_distance(x, path[-1]) for x in path]))


def monotonicity_violations(path) -> int:
    """Steps where d_A falls or d_B rises (a good morph has none)."""
    d_a, d_b = endpoint_curves(path)
    return int(np.sum(np.diff(d_a) < 0) + np.sum(np.diff(d_b) > 0))


def step_smoothness(path) -> float:
    """max_k d(x_k, x_{k+1}) / d(x_0, x_{K-1}) - 1 / (K - 1): 0 for even steps, near 1 for an abrupt
    switch; NaN when the endpoints are equal."""
    path = [_notes(x) for x in path]
    total = cell_distance(path[0], path[-1])
    if total == 0:
        return float("nan")
    largest = max(cell_distance(a, b) for a, b in zip(path[:-1], path[1:]))
    return largest / total - 1.0 / (len(path) - 1)


def interpolation_report(path, a=None, b=None) -> dict:
    """The path's scores as plain numbers, for blend.json and reports. ``a``/``b``: the inputs as the
    model heard them, to measure how well the endpoints reconstruct them."""
    d_a, d_b = endpoint_curves(path)
    report = {
        "endpoint_distance_a": [round(float(v), 4) for v in d_a],
        "endpoint_distance_b": [round(float(v), 4) for v in d_b],
        "monotonicity_violations": monotonicity_violations(path),
        "step_smoothness": round(step_smoothness(path), 4),
    }
    if a is not None and b is not None:
        report["reconstruction_accuracy_a"] = round(1 - cell_distance(path[0], a), 4)
        report["reconstruction_accuracy_b"] = round(1 - cell_distance(path[-1], b), 4)
    return report


def note_accuracy(pred, target) -> np.ndarray:
    """Per-voice share of frames whose note (argmax decode) equals the target's, shape (4,)."""
    p, t = _notes(pred), _notes(target)
    return np.mean(p.reshape(-1, 4) == t.reshape(-1, 4), axis=0)


def onsets(notes: np.ndarray) -> np.ndarray:
    """Boolean (..., frames, 4): a note starts (sounding, and different from the frame before)."""
    notes = _notes(notes)
    before = np.concatenate([np.zeros_like(notes[..., :1, :]), notes[..., :-1, :]], axis=-2)
    return (notes > 0) & (notes != before)


def onset_f1(pred, target) -> np.ndarray:
    """Per-voice F1 of note onsets at the exact frame (pitch included), shape (4,)."""
    p, t = _notes(pred), _notes(target)
    po, to = onsets(p), onsets(t)
    hit = po & to & (p == t)
    axes = tuple(range(po.ndim - 1))
    tp, n_pred, n_true = hit.sum(axis=axes), po.sum(axis=axes), to.sum(axis=axes)
    precision = np.where(n_pred > 0, tp / np.maximum(n_pred, 1), 1.0)
    recall = np.where(n_true > 0, tp / np.maximum(n_true, 1), 1.0)
    return np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)


def crossfade_path(a, b, steps: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The data-space baseline: each cell of step k copied from B with probability t_k, else from A
    (one uniform draw per cell, so cells switch once and the path is monotone)."""
    a, b = np.asarray(a), np.asarray(b)
    u = rng.random(a.shape[:2])[..., None] if a.ndim == 3 else rng.random(a.shape)
    return [np.where(u < k / (steps - 1), b, a) for k in range(steps)]
