"""Baselines that every music table shows beside a model (evaluation.md, section 3): what a score is
worth when no model is used at all. Each maps real windows (n, frames, 4, 3) to "reconstructions" of
the same shape, computed on the same windows as the model's, so one scoring function serves both.

Cost: the numbers per window a baseline keeps, to set beside a model's latent size. Counted in notes
(one per voice and kept frame), as the latent is; a baseline that also keeps volume and timbre (the
sample-and-hold ones do) keeps up to twice as many numbers more. In bits (``baseline_cost_bits``), the
common currency with a model's code: each kept (note, volume, timbre) state at its voice's entropy.
"""

from __future__ import annotations

import numpy as np


def always_rest(windows) -> np.ndarray:
    """Silence everywhere."""
    return np.zeros_like(np.asarray(windows))


def constant_note(windows) -> np.ndarray:
    """Per window and voice, its most frequent sounding (note, volume, timbre) held over the whole
    window; a voice silent in the window stays silent. Cost: 4 notes per window."""
    w = np.asarray(windows)
    n, frames = w.shape[:2]
    # the most frequent sounding frame value per (window, voice), as one code per (note, volume, timbre)
    code = (w[..., 0].astype(np.int64) << 16) | (w[..., 1].astype(np.int64) << 8) | w[..., 2]
    sounding = w[..., 0] > 0
    out = np.zeros_like(w)
    flat = np.moveaxis(code, 1, -1).reshape(-1, frames)  # (n * 4, frames)
    on = np.moveaxis(sounding, 1, -1).reshape(-1, frames)
    order = np.sort(np.where(on, flat, -1), axis=1)
    # run lengths of equal values in each sorted row; pick the longest run that is not silence (-1)
    change = np.ones_like(order, dtype=bool)
    change[:, 1:] = order[:, 1:] != order[:, :-1]
    run_id = np.cumsum(change, axis=1) - 1
    rows = np.repeat(np.arange(len(order)), frames)
    counts = np.zeros((len(order), frames), np.int64)
    np.add.at(counts, (rows, run_id.ravel()), (order >= 0).ravel())
    best_run = counts.argmax(axis=1)
    first_of_run = np.argmax(run_id == best_run[:, None], axis=1)
    best = np.where(counts.max(axis=1) > 0, order[np.arange(len(order)), first_of_run], 0)
    value = np.stack([(best >> 16) & 0xFF, (best >> 8) & 0xFF, best & 0xFF], axis=-1).astype(w.dtype)
    out[:] = value.reshape(n, 1, 4, 3)
    # timbre of silent voices: keep the window's own (it does not sound either way)
    silent = ~on.any(axis=1).reshape(n, 4)
    out[..., 2] = np.where(silent[:, None, :], w[:, :1, :, 2], out[..., 2])
    return out


def hold_every(windows, k: int) -> np.ndarray:
    """Sample-and-hold: frames 0, k, 2k, ... of each window kept whole and held until the next kept
    frame. Cost: 4 * ceil(frames / k) notes per window."""
    if k < 1:
        raise ValueError(f"hold every k frames needs k >= 1, not {k}")
    w = np.asarray(windows)
    kept = (np.arange(w.shape[1]) // k) * k
    return w[:, kept]


def random_notes(windows, seed: int = 0) -> np.ndarray:
    """Uniformly random notes in each voice's range (or silence) on every frame, at a random volume and
    timbre: the least musical output of the right shape. Used to check that realism sees through noise."""
    from ..score import MAX_TIMBRE, MAX_VELOCITY, NOTE_RANGE, Voice

    w = np.asarray(windows)
    rng = np.random.default_rng(seed)
    out = np.zeros_like(w)
    for v in Voice:
        lo, hi = NOTE_RANGE[v]
        note = rng.integers(lo - 1, hi + 1, size=w.shape[:2])
        note = np.where(note == lo - 1, 0, note)
        out[:, :, v, 0] = note
        if v != Voice.TR:
            out[:, :, v, 1] = np.where(note > 0, rng.integers(1, MAX_VELOCITY + 1, size=note.shape), 0)
        out[:, :, v, 2] = rng.integers(0, MAX_TIMBRE[v] + 1, size=note.shape)
    return out


HOLD_STEPS = (2, 4, 8)


def state_entropy_bits(windows) -> np.ndarray:
    """Per voice (4,): the entropy in bits of a frame's (note, volume, timbre) state over ``windows``
    (n, frames, 4, 3), typically the train split: what one kept state costs at an ideal code."""
    w = np.asarray(windows).reshape(-1, 4, 3).astype(np.int64)
    code = (w[..., 0] << 16) | (w[..., 1] << 8) | w[..., 2]
    out = np.zeros(4)
    for v in range(4):
        _, counts = np.unique(code[:, v], return_counts=True)
        p = counts / counts.sum()
        out[v] = float(-(p * np.log2(p)).sum()) if len(p) else 0.0
    return out


def baseline_cost_bits(states_per_voice: int, entropy: np.ndarray) -> float:
    """Bits per window of a baseline that keeps ``states_per_voice`` states of every voice, each at its
    voice's state entropy (``state_entropy_bits``)."""
    return float(states_per_voice * np.sum(entropy))


def reconstruction_baselines(windows) -> dict[str, tuple[np.ndarray, int]]:
    """{name: (reconstructions, cost in notes per window)} of every reconstruction baseline."""
    w = np.asarray(windows)
    frames = w.shape[1]
    out = {"always_rest": (always_rest(w), 0), "constant_note": (constant_note(w), 4)}
    for k in HOLD_STEPS:
        out[f"hold_every_{k}"] = (hold_every(w, k), 4 * -(-frames // k))
    return out
