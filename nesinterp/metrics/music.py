"""Objective scores of a music interpolation path x_0 .. x_{K-1} between endpoints A and B
(../shared/docs/evaluation.md, section 3), on note arrays (frames, 4) or stacks of them.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..score import FRAME_RATE

VOICE_FEATURES = ("note_density", "sounding_share", "pitch_range", "pitch_mean", "note_length")
"""The per-voice statistics of ``voice_statistics``, in order: onsets per second, share of frames
sounding, max - min and mean of the sounding notes (for NO the noise note 1..16, not a pitch), and mean
note length in seconds (notes cut by the window's edges count as they are cut)."""

_SOUNDING = VOICE_FEATURES.index("sounding_share")


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


def interpolation_report(path, a=None, b=None, realism_ranges=None, window: int | None = None) -> dict:
    """The path's scores as plain numbers, for blend.json and reports: endpoint curves, monotonicity
    violations, step smoothness and the pitch-class morph (mean over the inner steps, and per step).
    ``a``/``b``: the inputs as the model heard them, to measure how well the endpoints reconstruct them.
    ``realism_ranges`` (4, F, 2), e.g. a model's training-corpus ranges: also the realism of each step,
    judged per ``window`` frames (the whole step when None), and its mean over the inner steps."""
    d_a, d_b = endpoint_curves(path)
    report = {
        "endpoint_distance_a": [round(float(v), 4) for v in d_a],
        "endpoint_distance_b": [round(float(v), 4) for v in d_b],
        "monotonicity_violations": monotonicity_violations(path),
        "step_smoothness": round(step_smoothness(path), 4),
    }
    morph = pitch_class_morph(path)
    # The mean over the inner steps (the endpoints are 1 by construction); None when there are none.
    report["pitch_class_morph"] = round(float(np.mean(morph[1:-1])), 4) if len(morph) > 2 else None
    report["pitch_class_morph_steps"] = [round(float(v), 4) for v in morph]
    if realism_ranges is not None:
        steps = [_notes(x) for x in path]
        size = window or steps[0].shape[0]
        shares = [realism(voice_statistics(x[: len(x) // size * size].reshape(-1, size, 4)), realism_ranges)[0]
                  for x in steps]
        report["realism_steps"] = [round(float(v), 4) for v in shares]
        report["realism"] = round(float(np.mean(shares[1:-1])), 4) if len(shares) > 2 else None
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


# --- realism: per-voice statistics against a corpus (evaluation.md, section 3) ---------------------

def voice_statistics(notes, fps: float = FRAME_RATE) -> np.ndarray:
    """Per window and voice, the statistics named in VOICE_FEATURES, as float (..., 4, F) from notes
    (..., frames, 4) or scores (..., frames, 4, 3); (n, 4, F) for a stack of n windows.

    Pitch range, pitch mean and note length are NaN where the voice is silent for the whole window
    (and only there: a voice that sounds has at least one onset)."""
    notes = _notes(notes)
    if notes.ndim < 2 or notes.shape[-1] != 4:
        raise ValueError(f"expected notes (..., frames, 4) or scores (..., frames, 4, 3), not {notes.shape}")
    frames = notes.shape[-2]
    if frames == 0:
        raise ValueError("windows of zero frames have no statistics")
    on = notes > 0
    sounding = on.sum(axis=-2, dtype=np.int64).astype(np.float64)
    starts = onsets(notes).sum(axis=-2, dtype=np.int64).astype(np.float64)
    silent = sounding == 0
    # Silent frames are note 0, so they never raise the max nor the sum; only the min must skip them.
    high = notes.max(axis=-2).astype(np.float64)
    fill = np.iinfo(notes.dtype).max if notes.dtype.kind in "iu" else np.inf
    low = np.where(on, notes, np.asarray(fill, notes.dtype)).min(axis=-2).astype(np.float64)
    total = notes.sum(axis=-2, dtype=np.int64).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        pitch_range = np.where(silent, np.nan, high - low)
        pitch_mean = np.where(silent, np.nan, total / sounding)
        note_length = np.where(starts > 0, sounding / starts / fps, np.nan)
    density = starts * fps / frames
    return np.stack([density, sounding / frames, pitch_range, pitch_mean, note_length], axis=-1)


VOICE_NAMES = ("P1", "P2", "TR", "NO")


def ranges_to_dict(ranges) -> dict:
    """Corpus ranges (4, F, 2) as {voice: {feature: [low, high]}} for JSON (None for a NaN bound)."""
    ranges = np.asarray(ranges, dtype=np.float64)
    return {v: {f: [None if np.isnan(x) else round(float(x), 6) for x in ranges[i, j]]
                for j, f in enumerate(VOICE_FEATURES)} for i, v in enumerate(VOICE_NAMES)}


def ranges_from_dict(d: dict) -> np.ndarray:
    """The inverse of ``ranges_to_dict``: (4, F, 2) float, NaN for a missing bound."""
    return np.array([[[np.nan if x is None else float(x) for x in d[v][f]] for f in VOICE_FEATURES]
                     for v in VOICE_NAMES], dtype=np.float64)


def corpus_ranges(stats, low: float = 5, high: float = 95) -> np.ndarray:
    """The corpus's ``low`` and ``high`` percentiles of each voice statistic, NaN (silent) values left
    out: (4, F, 2) from the statistics (n, 4, F) of its windows. A statistic that is NaN in every window
    (a voice the corpus never plays) gets a NaN range, which nothing falls inside."""
    stats = np.asarray(stats, dtype=np.float64)
    stats = stats.reshape(-1, *stats.shape[-2:])
    if len(stats) == 0:
        raise ValueError("no corpus windows to take ranges from")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: a voice the corpus never plays
        q = np.nanpercentile(stats, [low, high], axis=0)
    return np.moveaxis(q, 0, -1)


def within_ranges(stats, ranges) -> np.ndarray:
    """Boolean (..., 4, F): each statistic inside its corpus range, bounds included.

    Silence: the NaN statistics of a silent voice count as inside exactly when silence itself is in
    range, i.e. when the corpus's low percentile of that voice's sounding share is 0 (with the default
    5 %: at least about 5 % of corpus windows have the voice silent); otherwise outside. The silent
    voice's zero density and sounding share are checked like any other value."""
    stats = np.asarray(stats, dtype=np.float64)
    ranges = np.asarray(ranges, dtype=np.float64)
    lo, hi = ranges[..., 0], ranges[..., 1]
    with np.errstate(invalid="ignore"):
        inside = (stats >= lo) & (stats <= hi)
    silence_in_range = lo[:, _SOUNDING] <= 0  # (4,); False for a NaN range
    silent = stats[..., _SOUNDING] == 0
    return np.where(np.isnan(stats), (silent & silence_in_range)[..., None], inside)


def realism(stats, ranges) -> tuple[float, np.ndarray]:
    """(share of windows whose statistics all fall inside ``ranges``, share inside per voice and
    feature (4, F)); NaN for no windows. See ``within_ranges`` for how silent voices count."""
    inside = within_ranges(stats, ranges)
    inside = inside.reshape(-1, *inside.shape[-2:])
    if len(inside) == 0:
        return float("nan"), np.full(inside.shape[-2:], np.nan)
    return float(inside.all(axis=(1, 2)).mean()), inside.mean(axis=0)


# --- pitch classes ----------------------------------------------------------------------------------

def pitch_class_histogram(notes) -> np.ndarray:
    """12-bin histogram (C = 0) of the sounding frames of P1, P2 and TR (NO has no pitch), per window:
    (..., 12) from notes (..., frames, 4) or scores (..., frames, 4, 3), each summing to 1, or all zeros
    where those voices are silent."""
    notes = _notes(notes)
    if notes.ndim < 2 or notes.shape[-1] != 4:
        raise ValueError(f"expected notes (..., frames, 4) or scores (..., frames, 4, 3), not {notes.shape}")
    melodic = notes[..., :3].reshape(*notes.shape[:-2], -1)  # (..., frames * 3)
    lead = melodic.shape[:-1]
    flat = melodic.reshape(-1, melodic.shape[-1])
    # One bincount over (window, pitch class) cells, weighted by "sounding".
    cells = np.arange(len(flat))[:, None] * 12 + flat.astype(np.int64) % 12
    counts = np.bincount(cells.ravel(), weights=(flat > 0).ravel().astype(np.float64),
                         minlength=12 * len(flat)).reshape(len(flat), 12)
    total = counts.sum(axis=1, keepdims=True)
    return (counts / np.maximum(total, 1)).reshape(*lead, 12)


def pitch_class_morph(path) -> np.ndarray:
    """Per step k of a path x_0 .. x_{K-1}, the cosine between x_k's pitch-class histogram and the mixture
    (1 - t_k) h_0 + t_k h_{K-1}, t_k = k / (K - 1): (K,) for a path of windows, (K, n) for a path of
    stacks (K, n, frames, 4[, 3]). The endpoints score 1 by construction. A silent step against a
    silent mixture scores 1; silent against sounding (either way) 0."""
    steps = np.stack([np.asarray(x) for x in path])
    if len(steps) < 2:
        raise ValueError("a path needs at least its two endpoints")
    h = pitch_class_histogram(steps)  # (K, ..., 12)
    t = np.linspace(0.0, 1.0, len(h)).reshape(-1, *([1] * (h.ndim - 1)))
    mix = (1 - t) * h[0] + t * h[-1]
    norms = np.linalg.norm(h, axis=-1) * np.linalg.norm(mix, axis=-1)
    both_silent = (h.sum(axis=-1) == 0) & (mix.sum(axis=-1) == 0)
    cosine = (h * mix).sum(axis=-1) / np.maximum(norms, 1e-300)
    return np.where(norms > 0, np.clip(cosine, 0.0, 1.0), np.where(both_silent, 1.0, 0.0))
