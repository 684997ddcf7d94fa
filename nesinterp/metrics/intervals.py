"""95 % bootstrap intervals over songs (docs/scores.md, "Intervals").

Windows of one song are alike, so resampling windows would pretend to more evidence than there is: a
replicate draws *songs* with replacement (every window of a drawn song, as often as it is drawn) and
recomputes the figure from its songs' summed tallies. Every score here is a ratio of sums or a function
of counts, so a replicate is a weighted sum: ``weights`` (replicates, songs) @ per-song tallies, one
matrix product for all replicates at once. All rows of one report share the same replicates, so their
intervals are paired.
"""

from __future__ import annotations

import numpy as np

REPLICATES = 1000
LEVEL = 0.95


def bootstrap_weights(groups: int, replicates: int = REPLICATES, seed: int = 0) -> np.ndarray:
    """(replicates, groups): how often each group (song) is drawn in each replicate, ``groups`` draws
    with replacement per replicate."""
    if groups < 1:
        return np.zeros((replicates, 0))
    rng = np.random.default_rng(seed)
    return rng.multinomial(groups, np.full(groups, 1.0 / groups), size=replicates).astype(np.float64)


def group_sums(values: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    """``values`` (n, ...) summed per group (groups, ...); ``group`` (n,) the group of each row."""
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros((groups, *values.shape[1:]))
    np.add.at(out, np.asarray(group, np.int64), values)
    return out


def resample(weights: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """Per replicate (replicates, ...) the sums of its drawn groups: ``weights`` @ ``sums`` (groups, ...)."""
    sums = np.asarray(sums, dtype=np.float64)
    return (weights @ sums.reshape(len(sums), -1)).reshape(len(weights), *sums.shape[1:])


def interval(replicates: np.ndarray) -> np.ndarray:
    """The central LEVEL interval (2, ...) of bootstrap replicates (replicates, ...), NaN ignored; NaN
    where no replicate defines the figure."""
    r = np.asarray(replicates, dtype=np.float64)
    lo, hi = 100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2
    out = np.full((2, *r.shape[1:]), np.nan)
    defined = np.isfinite(r).any(axis=0)
    if defined.any():
        with np.errstate(invalid="ignore"):
            out[:, defined] = np.nanpercentile(r[:, defined], [lo, hi], axis=0)
    return out


def group_mean_interval(values: np.ndarray, group: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The interval (2,) of the mean of per-item ``values`` (n,) (NaN left out), the items clustered in
    ``group`` (n,) and resampled with ``weights`` (replicates, groups)."""
    values = np.asarray(values, dtype=np.float64)
    defined = np.isfinite(values)
    groups = weights.shape[1]
    sums = resample(weights, group_sums(np.where(defined, values, 0.0), group, groups))
    counts = resample(weights, group_sums(defined.astype(np.float64), group, groups))
    with np.errstate(invalid="ignore", divide="ignore"):
        return interval(np.where(counts > 0, sums / np.maximum(counts, 1e-300), np.nan))
