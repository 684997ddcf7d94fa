"""Held-out scores of a music model: how well it reconstructs unseen windows, and how its
interpolations between unseen windows compare with the data-space crossfade (evaluation.md, section 3).
"""

from __future__ import annotations

import numpy as np

from ..data import score_windows
from ..metrics import crossfade_path, monotonicity_violations, note_accuracy, onset_f1, step_smoothness

VOICES = ("P1", "P2", "TR", "NO")


def held_out_windows(split, window: int, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive windows of every song of a dataset split, and the song index of each."""
    stacks, owners = [], []
    for i in range(len(split)):
        w = score_windows(split.score(i), window)
        stacks.append(w)
        owners.append(np.full(len(w), i))
    windows, owner = np.concatenate(stacks), np.concatenate(owners)
    return (windows[:limit], owner[:limit]) if limit else (windows, owner)


def evaluate_music(model, split, pairs: int = 64, steps: int = 8, seed: int = 0, batch: int = 256) -> dict:
    """Reconstruction accuracy and onset F1 per voice over every window of ``split``, and the mean
    path scores of ``pairs`` interpolations between windows of different songs, beside the crossfade."""
    windows, owner = held_out_windows(split, model.window)
    heard = model.as_heard(windows)
    recon = np.concatenate([model.reconstruct(windows[i:i + batch]) for i in range(0, len(windows), batch)])
    acc, f1 = note_accuracy(recon, heard), onset_f1(recon, heard)
    rng = np.random.default_rng(seed)
    a_idx = rng.integers(0, len(windows), pairs)
    b_idx = np.array([rng.choice(np.flatnonzero(owner != owner[i])) for i in a_idx])
    latent = model.interpolate(windows[a_idx], windows[b_idx], steps)  # (steps, pairs, T, 4, 3)
    ours = [[latent[k, j] for k in range(steps)] for j in range(pairs)]
    fades = [crossfade_path(heard[a], heard[b], steps, rng) for a, b in zip(a_idx, b_idx)]

    def path_scores(paths):
        smooth = [step_smoothness(p) for p in paths]
        return {"monotonicity_violations": round(float(np.mean([monotonicity_violations(p) for p in paths])), 3),
                "step_smoothness": round(float(np.nanmean(smooth)), 4)}

    return {
        "windows": int(len(windows)),
        "songs": len(split),
        "reconstruction_accuracy": {v: round(float(x), 4) for v, x in zip(VOICES, acc)},
        "reconstruction_accuracy_mean": round(float(acc.mean()), 4),
        "onset_f1": {v: round(float(x), 4) for v, x in zip(VOICES, f1)},
        "interpolation": {"pairs": pairs, "steps": steps, "latent": path_scores(ours),
                          "crossfade": path_scores(fades)},
    }
