"""Scores cut into the model's windows: consecutive windows of one song, padded with silence at the end,
and several songs aligned to the same count (what blend --whole, medleys and grids pair up)."""

from __future__ import annotations

import numpy as np

from nesinterp.score import Field, Score


def score_windows(score: Score, window: int, hop: int | None = None) -> np.ndarray:
    """Consecutive windows (n, window, 4, 3) covering a song; the last is padded with silence."""
    hop = hop or window
    frames = max(score.frames, window)
    count = 1 + max(0, -(-(frames - window) // hop))
    padded = np.zeros(((count - 1) * hop + window, 4, 3), np.uint8)
    padded[: score.frames] = score.array
    timbre_fill = padded[score.frames - 1, :, Field.TIMBRE] if score.frames else 0
    padded[score.frames :, :, Field.TIMBRE] = timbre_fill
    return np.stack([padded[i * hop : i * hop + window] for i in range(count)])


def aligned_windows(scores: list[Score], window: int) -> list[np.ndarray]:
    """Every song as a stack of consecutive windows, all of the same count: the shorter songs repeated
    from their start to the longest one's length (what ``blend --whole`` and ``TrainedModel.interpolate``
    and ``medley`` of Scores pair up)."""
    stacks = [score_windows(s, window) for s in scores]
    n = max(len(s) for s in stacks)
    return [np.resize(s, (n, *s.shape[1:])) for s in stacks]


def paired_windows(a: Score, b: Score, window: int) -> tuple[np.ndarray, np.ndarray]:
    """``aligned_windows`` of two songs."""
    wa, wb = aligned_windows([a, b], window)
    return wa, wb
