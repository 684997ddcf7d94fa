"""Realism of generated music as a set-level comparison with real windows (evaluation.md, section 3).

Each window (frames, 4, 3) is described per voice by the features in ``FEATURES``. A set of windows
(say the middle steps of many interpolations) is compared with a real reference set feature by feature
through the **overlapping area** of the two distributions (MGEval, Yang & Lerch 2018): 1 when the set is
distributed exactly as real windows, the reference's share of the set's values when the set piles up
on a few values. The score is the geometric mean of the overlaps of every (voice, feature) pair in
``SCORED``: music is real only when every aspect is, so one aspect entirely wrong (drums that never
hit, envelopes that never move) pulls the score down instead of being averaged away by the others.

Why overlap rather than a two-sample classifier: it needs no training and no seed, it is exact and
deterministic for a given reference, it explains itself (each voice and feature gets its own overlap,
so "NO onset rate 0.12" says *what* is unreal), and it cannot be won by blandness: a set that is always
silent, or always the same, overlaps real music only by the share of real windows that look like that
too. A classifier finds any difference but says little about which, and it needs care to be stable on
a few hundred windows.

The distributions are histograms on the reference's own quantile bins (every 5 %), with one more bin
for "undefined" (e.g. the pitch of a voice that is silent for the whole window), so silence is compared
like any other value. A reference is small (edges and masses) and travels in model.json, so every
blend can be scored against its model's training corpus.

For a single window (one blend step) a distribution cannot be compared; ``typicality`` gives instead,
per feature, how central the window's value is among real ones (two-sided mid-rank: 1 at the median,
near 0 in either tail, the corpus share of "undefined" for an undefined value), averaged over the
scored features. Real windows
average about 0.5 by construction; the reference stores its own corpus's figure to compare with.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from ..jsonio import rounded
from ..score import FRAME_RATE, note_events

VOICES = ("P1", "P2", "TR", "NO")

FEATURES = ("onset_rate", "sounding_share", "pitch_mean", "pitch_range", "note_length", "reattack_rate",
            "volume_mean", "volume_change", "pitch_class_entropy")
"""Per voice and window: onsets per second (for NO: the noise hit rate), share of frames sounding,
mean and max - min of the sounding notes (for NO the noise index 1..16), mean note length in seconds
(sounding frames / onsets), re-attacks per second (same pitch, volume rising), mean volume while
sounding, mean |volume change| per frame within a held note (0 for flat envelopes), and the entropy in
bits of the voice's pitch-class histogram. Undefined (NaN) where there is nothing to measure: pitch,
volume and entropy of a silent voice, note length without onsets, volume change without held notes."""

APPLIES = np.array([
    # onset sound pmean prange length reatk vmean vchg  pc-entropy
    [True, True, True, True, True, True, True, True, True],      # P1
    [True, True, True, True, True, True, True, True, True],      # P2
    [True, True, True, True, True, False, False, False, True],   # TR: no volume on the triangle
    [True, True, True, True, True, True, True, True, False],     # NO: noise has no pitch class
])
"""Which features describe which voice: the triangle has no volume (so neither re-attacks nor
envelopes), the noise channel no pitch classes."""

LEVEL_FEATURES = ("pitch_mean", "volume_mean")
"""Reported, but left out of the score: they tell which game a window comes from more than whether it is
music (real train and real valid windows, from different games, overlap least on these: about 0.75-0.9),
and a set that copies them while doing nothing else (one constant note) would earn credit for it."""

SCORED = APPLIES & ~np.isin(FEATURES, LEVEL_FEATURES)[None, :]
"""The (voice, feature) pairs whose overlaps make the realism score."""

LEVELS = np.arange(10, 100, 10)  # the reference quantiles that cut the bins: 10 bins of about 10 % each
OVERLAP_FLOOR = 1e-3  # an overlap of 0 counts as this in the geometric mean (which 0 would end)
BINS = len(LEVELS) + 2  # slots of a feature's histogram: at most len(LEVELS) + 1 bins, and undefined
UNDEFINED_SLOT = BINS - 1


def window_features(scores, fps: float = FRAME_RATE) -> np.ndarray:
    """FEATURES of each window and voice: float (..., 4, F) from scores (..., frames, 4, 3). Features
    that do not apply to a voice (see APPLIES) are NaN."""
    x = np.asarray(scores)
    if x.ndim < 3 or x.shape[-2:] != (4, 3):
        raise ValueError(f"expected scores (..., frames, 4, 3), not {x.shape}")
    frames = x.shape[-3]
    if frames == 0:
        raise ValueError("windows of zero frames have no features")
    notes = x[..., 0].astype(np.int64)
    vel = x[..., 1].astype(np.float64)
    on = notes > 0
    starts, reattacks = note_events(x)
    sounding = on.sum(axis=-2).astype(np.float64)
    n_on = starts.sum(axis=-2).astype(np.float64)
    silent = sounding == 0
    high = notes.max(axis=-2).astype(np.float64)
    low = np.where(on, notes, 1 << 20).min(axis=-2).astype(np.float64)
    held = on[..., 1:, :] & (notes[..., 1:, :] == notes[..., :-1, :])  # consecutive frames of one pitch
    with np.errstate(invalid="ignore", divide="ignore"):
        pitch_mean = np.where(silent, np.nan, (notes * on).sum(axis=-2) / sounding)
        pitch_range = np.where(silent, np.nan, high - low)
        length = np.where(n_on > 0, sounding / n_on / fps, np.nan)
        volume_mean = np.where(silent, np.nan, (vel * on).sum(axis=-2) / sounding)
        change = np.abs(np.diff(vel, axis=-2)) * held
        n_held = held.sum(axis=-2)
        volume_change = np.where(n_held > 0, change.sum(axis=-2) / n_held, np.nan)
    # pitch-class entropy: one bincount over (window-voice, pitch class) cells weighted by "sounding"
    lead = notes.shape[:-2]
    flat = np.moveaxis(notes, -2, -1).reshape(-1, frames)  # (windows * 4, frames)
    cells = np.arange(len(flat))[:, None] * 12 + flat % 12
    counts = np.bincount(cells.ravel(), weights=(flat > 0).ravel().astype(np.float64),
                         minlength=12 * len(flat)).reshape(len(flat), 12)
    p = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -(np.where(p > 0, p * np.log2(p), 0.0)).sum(axis=1)
    entropy = np.where(counts.sum(axis=1) > 0, entropy, np.nan).reshape(*lead, 4)
    out = np.stack([n_on * fps / frames, sounding / frames, pitch_mean, pitch_range, length,
                    reattacks.sum(axis=-2) * fps / frames, volume_mean, volume_change, entropy], axis=-1)
    return np.where(APPLIES, out, np.nan)


@dataclass(frozen=True)
class RealismReference:
    """The distribution of every (voice, feature) over a set of real windows: ``edges[v][f]`` the bin
    edges (the set's quantiles at LEVELS, duplicates dropped), ``masses[v][f]`` the share of windows in
    each of the len(edges) + 1 bins, ``undefined[v, f]`` the share where the feature is NaN. Masses and
    undefined sum to 1 per pair. ``typicality`` is the set's own mean typicality, to compare with."""

    edges: tuple
    masses: tuple
    undefined: np.ndarray
    windows: int
    frames: int
    typicality: float

    @classmethod
    def from_windows(cls, windows) -> RealismReference:
        """The reference of real windows (n, frames, 4, 3)."""
        windows = np.asarray(windows)
        if windows.ndim != 4 or len(windows) == 0:
            raise ValueError(f"a realism reference needs a stack of real windows (n, frames, 4, 3), "
                             f"not {windows.shape}")
        feats = window_features(windows)
        edges, masses = [], []
        for v in range(4):
            ev, mv = [], []
            for f in range(len(FEATURES)):
                values = feats[:, v, f]
                defined = values[~np.isnan(values)]
                e = np.unique(np.percentile(defined, LEVELS)) if len(defined) else np.zeros(0)
                counts = np.bincount(np.searchsorted(e, defined, side="right"), minlength=len(e) + 1)
                ev.append(e)
                mv.append(counts / len(values))
            edges.append(tuple(ev))
            masses.append(tuple(mv))
        undefined = np.isnan(feats).mean(axis=0)
        ref = cls(tuple(edges), tuple(masses), undefined, len(windows), int(windows.shape[1]), float("nan"))
        return replace(ref, typicality=float(ref.typicality_of(feats)[0].mean()))

    # --- JSON -------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain JSON: {"windows", "frames", "typicality", "features": {voice: {feature: {"edges",
        "masses", "undefined"}}}}, only the features that apply to each voice."""
        return {"windows": self.windows, "frames": self.frames, "typicality": round(self.typicality, 4),
                "features": {voice: {f: {"edges": [float(x) for x in self.edges[v][j]],  # exact: values sit on them
                                         "masses": [round(float(x), 6) for x in self.masses[v][j]],
                                         "undefined": round(float(self.undefined[v, j]), 6)}
                                     for j, f in enumerate(FEATURES) if APPLIES[v, j]}
                             for v, voice in enumerate(VOICES)}}

    @classmethod
    def from_dict(cls, d: dict) -> RealismReference:
        """The inverse of ``to_dict``; ValueError when ``d`` is not one."""
        try:
            edges, masses = [], []
            undefined = np.ones((4, len(FEATURES)))
            for v, voice in enumerate(VOICES):
                ev, mv = [], []
                for j, f in enumerate(FEATURES):
                    if APPLIES[v, j]:
                        entry = d["features"][voice][f]
                        e = np.asarray(entry["edges"], dtype=np.float64)
                        m = np.asarray(entry["masses"], dtype=np.float64)
                        undefined[v, j] = float(entry["undefined"])
                        if (e.ndim != 1 or m.shape != (len(e) + 1,) or not np.all(np.diff(e) > 0)
                                or not np.all((m >= 0) & (m <= 1)) or not 0 <= undefined[v, j] <= 1):
                            raise ValueError(f"{voice} {f}: bad edges, masses or undefined share")
                    else:
                        e, m = np.zeros(0), np.zeros(1)
                    ev.append(e)
                    mv.append(m)
                edges.append(tuple(ev))
                masses.append(tuple(mv))
            return cls(tuple(edges), tuple(masses), undefined, int(d["windows"]), int(d["frames"]),
                       float(d["typicality"]))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a realism reference ({exc!r})") from None

    # --- scores -----------------------------------------------------------------------------------
    def bin_counts(self, feats: np.ndarray, groups: np.ndarray | None = None, n_groups: int | None = None
                   ) -> np.ndarray:
        """How many of the windows' ``feats`` (n, 4, F) fall in each of the reference's bins: (4, F, BINS),
        or per group (n_groups, 4, F, BINS) with ``groups`` (n,) the group of each window (a song, a path).
        Slot j < len(edges) + 1 is the j-th bin of defined values, the last slot (UNDEFINED_SLOT) counts
        undefined ones. Summed over any set of windows, ``overlap_from_counts`` scores that set."""
        feats = np.asarray(feats, dtype=np.float64).reshape(-1, 4, len(FEATURES))
        index = np.full(feats.shape, UNDEFINED_SLOT, np.int64)
        for v in range(4):
            for f in range(len(FEATURES)):
                values = feats[:, v, f]
                index[:, v, f] = np.where(np.isnan(values), UNDEFINED_SLOT,
                                          np.searchsorted(self.edges[v][f], np.nan_to_num(values), side="right"))
        cells = (np.arange(4 * len(FEATURES)).reshape(4, len(FEATURES)) * BINS + index)  # (n, 4, F)
        single = groups is None
        groups = np.zeros(len(feats), np.int64) if single else np.asarray(groups, np.int64)
        if single:
            n_groups = 1
        elif n_groups is None:
            n_groups = int(groups.max()) + 1 if len(groups) else 0
        flat = (groups[:, None, None] * (4 * len(FEATURES) * BINS) + cells).ravel()
        counts = np.bincount(flat, minlength=n_groups * 4 * len(FEATURES) * BINS).astype(np.float64)
        counts = counts.reshape(n_groups, 4, len(FEATURES), BINS)
        return counts[0] if single else counts

    def overlap_from_counts(self, counts: np.ndarray) -> np.ndarray:
        """Overlapping area (..., 4, F) of the distribution counted in ``counts`` (..., 4, F, BINS; see
        ``bin_counts``) with the reference's; NaN for features that do not apply or an empty set."""
        counts = np.asarray(counts, dtype=np.float64)
        n = counts[..., 0, 0, :].sum(axis=-1)[..., None, None, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(n > 0, counts / np.maximum(n, 1e-300), np.nan)
        return np.where(APPLIES, np.minimum(share, self._slot_masses()).sum(axis=-1), np.nan)

    def _slot_masses(self) -> np.ndarray:
        """The reference's masses laid out as ``bin_counts``'s slots (4, F, BINS)."""
        out = np.zeros((4, len(FEATURES), BINS))
        for v in range(4):
            for f in range(len(FEATURES)):
                m = self.masses[v][f]
                out[v, f, : len(m)] = m
                out[v, f, UNDEFINED_SLOT] = self.undefined[v, f]
        return out

    def overlap_of(self, feats: np.ndarray) -> np.ndarray:
        """Overlapping area (4, F) between the distribution of ``feats`` (n, 4, F) and the reference's,
        NaN for features that do not apply."""
        return self.overlap_from_counts(self.bin_counts(feats))

    def typicality_of(self, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(per window mean typicality (n,), per window and (voice, feature) typicality (n, 4, F), NaN
        where a feature does not apply). A defined value's typicality is 2 min(c, 1 - c) with c its
        mid-rank among the reference's defined values (at bin resolution); an undefined value's is the
        reference's share of undefined values."""
        feats = np.asarray(feats, dtype=np.float64).reshape(-1, 4, len(FEATURES))
        out = np.full(feats.shape, np.nan)
        for v in range(4):
            for f in range(len(FEATURES)):
                if not APPLIES[v, f]:
                    continue
                values = feats[:, v, f]
                e, m = self.edges[v][f], self.masses[v][f]
                total = m.sum()
                if total <= 0:  # the reference never has this defined: any defined value is untypical
                    mid = np.zeros(len(m))
                else:
                    mid = (np.cumsum(m) - m / 2) / total
                bins = np.searchsorted(e, np.nan_to_num(values), side="right")
                typical = 2 * np.minimum(mid[bins], 1 - mid[bins])
                if total <= 0:
                    typical = np.zeros_like(typical)
                out[:, v, f] = np.where(np.isnan(values), self.undefined[v, f], typical)
        scored = np.where(SCORED, out, np.nan).reshape(len(out), -1)
        return np.nanmean(scored, axis=1), out


def geometric_mean(overlaps) -> float:
    """The geometric mean of overlaps (NaN ignored), each at least OVERLAP_FLOOR."""
    o = np.asarray(overlaps, dtype=np.float64)
    o = o[~np.isnan(o)]
    return float(np.exp(np.mean(np.log(np.maximum(o, OVERLAP_FLOOR))))) if len(o) else float("nan")


def realism_scores(overlaps: np.ndarray, per_voice: bool = False) -> np.ndarray:
    """The realism score (...) of overlaps (..., 4, F): the geometric mean of the SCORED ones, each at
    least OVERLAP_FLOOR (``geometric_mean``, over any leading axes, e.g. bootstrap replicates); with
    ``per_voice`` each voice's (..., 4)."""
    logs = np.log(np.maximum(np.where(SCORED, overlaps, np.nan), OVERLAP_FLOOR))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an undefined set: NaN, said once
        return np.exp(np.nanmean(logs if per_voice else logs.reshape(*logs.shape[:-2], -1), axis=-1))


def realism(windows, reference: RealismReference) -> dict:
    """The set-level realism of ``windows`` (n, frames, 4, 3) against ``reference``:
    {"score": geometric mean of the SCORED overlaps, "voices": {voice: the same per voice},
    "features": {voice: {feature: overlap}} (every feature that applies, level features included),
    "windows": n}; score None (with "reason") for an empty set."""
    windows = np.asarray(windows)
    if windows.ndim == 3:  # one window
        windows = windows[None]
    n = int(len(windows)) if windows.ndim == 4 else 0
    if n == 0:
        return {"score": None, "reason": "no windows", "voices": {v: None for v in VOICES}, "features": {},
                "windows": 0}
    return realism_entry(reference.overlap_of(window_features(windows)), n)


def realism_entry(overlap: np.ndarray, windows: int) -> dict:
    """``realism``'s entry from the overlaps (4, F) of a set of ``windows`` windows with the reference."""
    voices = realism_scores(overlap, per_voice=True)
    return {"score": rounded(realism_scores(overlap)),
            "voices": {v: rounded(voices[i]) for i, v in enumerate(VOICES)},
            "features": {v: {f: rounded(overlap[i, j]) for j, f in enumerate(FEATURES) if APPLIES[i, j]}
                         for i, v in enumerate(VOICES)},
            "windows": windows}


def typicality(windows, reference: RealismReference) -> tuple[np.ndarray, np.ndarray]:
    """Per window (n,) mean typicality of the SCORED features, and per window and voice (n, 4), of
    windows (n, frames, 4, 3)."""
    mean, each = reference.typicality_of(window_features(np.asarray(windows)))
    return mean, np.nanmean(np.where(SCORED, each, np.nan), axis=2)

