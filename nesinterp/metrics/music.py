"""Objective scores of music (docs/scores.md, section 3) on scores (frames, 4, 3) or
note arrays (frames, 4), single windows or stacks of them: how well reconstructions keep what a
listener hears (onsets, sounding pitch), how an interpolation path moves from A to B, and what each
step of a blend sounds like. Realism, the set-level comparison with real music, is in ``realism``;
the baselines every table shows are in ``baselines``.
"""

from __future__ import annotations

import numpy as np

from ..jsonio import rounded
from .realism import RealismReference, note_events, typicality

VOICE_NAMES = ("P1", "P2", "TR", "NO")
ONSET_TOLERANCE = 1  # frames (42 ms at 24 Hz; MIR practice is +-50 ms)


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
    switch; NaN when the endpoints are equal (reports write null and say why)."""
    path = [_notes(x) for x in path]
    total = cell_distance(path[0], path[-1])
    if total == 0:
        return float("nan")
    largest = max(cell_distance(a, b) for a, b in zip(path[:-1], path[1:]))
    return largest / total - 1.0 / (len(path) - 1)


# --- reconstruction: onsets and sounding pitch --------------------------------------------------------

def onsets(scores) -> np.ndarray:
    """Boolean (..., frames, 4): a note starts: a new pitch, a start after silence, or (given scores
    with volume) a re-attack of the same pitch. See ``realism.note_events``."""
    return note_events(scores)[0]


def _shift(x: np.ndarray, d: int) -> np.ndarray:
    """x moved by d frames along axis -2 (x[..., t - d, :] lands on t), False/0 where nothing lands."""
    out = np.zeros_like(x)
    if d > 0:
        out[..., d:, :] = x[..., :-d, :]
    elif d < 0:
        out[..., :d, :] = x[..., -d:, :]
    else:
        out[:] = x
    return out


def _matched(po: np.ndarray, to: np.ndarray, pn: np.ndarray, tn: np.ndarray, tolerance: int) -> list[np.ndarray]:
    """Per window and voice (..., 4), the onsets ``po`` matched one to one with ``to`` (both boolean
    (..., frames, 4), notes ``pn``/``tn`` beside them) within 0, 1, ..., ``tolerance`` frames: one
    matching run whose passes widen the tolerance step by step (see ``onset_matches``)."""
    free_p, free_t = po.copy(), to.copy()
    matched = np.zeros(po.shape[:-2] + po.shape[-1:], np.int64)
    by_tolerance = []
    for tol in range(tolerance + 1):
        for d in ([0] if tol == 0 else [tol, -tol]):
            # a prediction at frame f against the true onset at frame f - d
            same = pn == _shift(tn, d)
            same[..., 3] = True  # noise: any index
            hit = free_p & _shift(free_t, d) & same
            matched = matched + hit.sum(axis=-2)
            free_p &= ~hit
            free_t &= ~_shift(hit, -d)
        by_tolerance.append(matched)
    return by_tolerance


def _onset_counts(pred, target, tolerance: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """(matched within 0, 1, ..., ``tolerance`` frames, predicted, true) onset counts per voice, summed
    over windows."""
    p, t = np.asarray(pred), np.asarray(target)
    po, to = onsets(p), onsets(t)
    axes = tuple(range(po.ndim - 2))
    by_tolerance = [m.sum(axis=axes) for m in _matched(po, to, _notes(p), _notes(t), tolerance)]
    return by_tolerance, po.sum(axis=axes + (po.ndim - 2,)), to.sum(axis=axes + (po.ndim - 2,))


def onset_matches(pred, target, tolerance: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(matched, predicted, true) onset counts per voice, each (4,), summed over windows.

    Predicted onsets are matched one to one with true onsets at most ``tolerance`` frames away: the
    same pitch for P1/P2/TR, any noise index for NO. Exact frames are matched first, then offsets of
    1, -1, 2, -2, ...; each pass pairs every unmatched prediction with the single unmatched true onset
    at that offset, so no onset is counted twice."""
    by_tolerance, n_pred, n_true = _onset_counts(pred, target, tolerance)
    return by_tolerance[-1], n_pred, n_true


def _f1(tp: np.ndarray, n_pred: np.ndarray, n_true: np.ndarray) -> np.ndarray:
    precision = np.where(n_pred > 0, tp / np.maximum(n_pred, 1), 1.0)
    recall = np.where(n_true > 0, tp / np.maximum(n_true, 1), 1.0)
    return np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)


def onset_f1(pred, target, tolerance: int = 0) -> np.ndarray:
    """Per-voice F1 (4,) of note onsets within ``tolerance`` frames (``onset_matches``). A voice with
    no onsets in either scores 1; with onsets in only one, 0."""
    return _f1(*onset_matches(pred, target, tolerance))


def _ratio(n_pred: np.ndarray, n_true: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_true > 0, n_pred / np.maximum(n_true, 1), np.nan)


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole, NaN where whole is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(whole > 0, part / np.maximum(whole, 1e-300), np.nan)


def onset_ratio(pred, target) -> np.ndarray:
    """Per voice (4,): predicted onsets / true onsets (1.0 = the right count; NaN without true onsets)."""
    axes = tuple(range(np.ndim(_notes(pred)) - 1))
    return _ratio(onsets(pred).sum(axis=axes), onsets(target).sum(axis=axes))


def pitch_accuracy_sounding(pred, target) -> np.ndarray:
    """Per voice (4,): among frames where the target sounds, the share decoded with its note (a rest
    counts as wrong; for NO the noise index). NaN for a voice that never sounds in the target."""
    p, t = _notes(pred).reshape(-1, 4), _notes(target).reshape(-1, 4)
    on = t > 0
    return _share(((p == t) & on).sum(axis=0), on.sum(axis=0))


def loudness(scores) -> np.ndarray:
    """Per voice (4,): the mean volume over the frames the voice sounds in ``scores`` (..., frames, 4, 3);
    NaN for the triangle, which has no volume, and for a voice that never sounds."""
    x = np.asarray(scores).reshape(-1, 4, 3)
    on = x[..., 0] > 0
    out = _share((x[..., 1] * on).sum(axis=0), on.sum(axis=0))
    out[2] = np.nan
    return out


def loudness_ratio(pred, target) -> np.ndarray:
    """Per voice (4,): ``loudness`` of ``pred`` over that of ``target`` (1.0 = as loud; a decoder whose
    volume head runs quiet plays below 1). NaN for the triangle and for a voice silent in either."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return loudness(pred) / loudness(target)


def _where_note_right(pred, target, measure) -> np.ndarray:
    """Per voice (4,): the mean of ``measure(p, t)`` (frames, 4) over the frames where ``pred`` plays
    ``target``'s note (both (..., frames, 4, 3)); NaN for the triangle, which has no volume or timbre,
    and where no such frame exists."""
    p, t = np.asarray(pred).reshape(-1, 4, 3), np.asarray(target).reshape(-1, 4, 3)
    same = (t[..., 0] > 0) & (p[..., 0] == t[..., 0])
    out = _share((measure(p, t) * same).sum(axis=0), same.sum(axis=0))
    out[2] = np.nan
    return out


def _volume_difference(p, t):
    return np.abs(p[..., 1].astype(np.int64) - t[..., 1])


def volume_error(pred, target) -> np.ndarray:
    """Per voice (4,): mean |volume difference| (steps of 15) on the frames where ``pred`` plays
    ``target``'s note; NaN for the triangle and where no such frame exists."""
    return _where_note_right(pred, target, _volume_difference)


def timbre_accuracy(pred, target) -> np.ndarray:
    """Per voice (4,): on the frames where ``pred`` plays ``target``'s note, the share with its timbre
    (the duty cycle of P1 and P2, the noise's loop mode); NaN for the triangle, which has none, and
    where no such frame exists."""
    return _where_note_right(pred, target, lambda p, t: p[..., 2] == t[..., 2])


def note_accuracy(pred, target) -> np.ndarray:
    """Per-voice share of frames whose note equals the target's, shape (4,). An extra only: rests and
    held notes dominate it (evaluation.md)."""
    p, t = _notes(pred), _notes(target)
    return np.mean(p.reshape(-1, 4) == t.reshape(-1, 4), axis=0)


def sounding_share(x) -> np.ndarray:
    """Per voice (4,): the share of frames that sound."""
    return np.mean(_notes(x).reshape(-1, 4) > 0, axis=0)


RECONSTRUCTION_SCORES = ("onset_f1", "onset_f1_tol1", "onset_ratio", "pitch_onset_f1_tol1", "pitch_onset_ratio",
                         "reattack_f1_tol1", "reattack_ratio", "pitch_accuracy_sounding", "note_accuracy",
                         "loudness_ratio", "volume_error", "timbre_accuracy")


def reconstruction_tallies(pred, target) -> dict[str, np.ndarray]:
    """Per window and voice (n, 4), the counts every reconstruction score is a ratio of: onsets matched
    exactly and within ONSET_TOLERANCE, predicted and true (all onsets, pitch onsets alone, re-attacks
    alone), frames, sounding frames and those with the right note, volume sums, and so on. Summed over
    any set of windows (a split, a bootstrap replicate of its songs) they give that set's scores
    (``scores_from_tallies``). ``pred``, ``target``: stacks (..., frames, 4, 3), flattened to windows."""
    p, t = np.asarray(pred), np.asarray(target)
    p, t = p.reshape(-1, *p.shape[-3:]), t.reshape(-1, *t.shape[-3:])
    (po, pr), (to, tr) = note_events(p), note_events(t)
    pn, tn = p[..., 0], t[..., 0]
    out = {}
    for name, (a, b) in (("", (po, to)), ("pitch_", (po & ~pr, to & ~tr)), ("reattack_", (pr, tr))):
        by_tolerance = _matched(a, b, pn, tn, ONSET_TOLERANCE)
        if not name:
            out["tp_exact"] = by_tolerance[0]
        out[f"{name}tp"], out[f"{name}pred"], out[f"{name}true"] = by_tolerance[-1], a.sum(axis=1), b.sum(axis=1)
    on_t, on_p = tn > 0, pn > 0
    right = (pn == tn) & on_t
    out.update(windows=np.ones((len(t), 4)), frames=np.full((len(t), 4), t.shape[1]), note_right=(pn == tn).sum(axis=1),
               sounding=on_t.sum(axis=1), pitch_right=right.sum(axis=1),
               volume_pred=(p[..., 1] * on_p).sum(axis=1), sounding_pred=on_p.sum(axis=1),
               volume_true=(t[..., 1] * on_t).sum(axis=1),
               volume_error=(_volume_difference(p, t) * right).sum(axis=1),
               timbre_right=((p[..., 2] == t[..., 2]) & right).sum(axis=1))
    return {k: v.astype(np.float64) for k, v in out.items()}


def scores_from_tallies(tallies: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """RECONSTRUCTION_SCORES and onsets per window, each (..., 4), from tallies summed over windows
    (each (..., 4); a leading axis for bootstrap replicates is kept). NaN where undefined."""
    c = tallies
    no_expression = np.array([False, False, True, False])  # the triangle: no volume (no re-attacks), no timbre
    return {
        "onset_f1": _f1(c["tp_exact"], c["pred"], c["true"]),
        "onset_f1_tol1": _f1(c["tp"], c["pred"], c["true"]),
        "onset_ratio": _ratio(c["pred"], c["true"]),
        "pitch_onset_f1_tol1": _f1(c["pitch_tp"], c["pitch_pred"], c["pitch_true"]),
        "pitch_onset_ratio": _ratio(c["pitch_pred"], c["pitch_true"]),
        "reattack_f1_tol1": np.where(no_expression, np.nan, _f1(c["reattack_tp"], c["reattack_pred"], c["reattack_true"])),
        "reattack_ratio": np.where(no_expression, np.nan, _ratio(c["reattack_pred"], c["reattack_true"])),
        "pitch_accuracy_sounding": _share(c["pitch_right"], c["sounding"]),
        "note_accuracy": _share(c["note_right"], c["frames"]),
        "loudness_ratio": np.where(no_expression, np.nan, _share(_share(c["volume_pred"], c["sounding_pred"]),
                                                               _share(c["volume_true"], c["sounding"]))),
        "volume_error": np.where(no_expression, np.nan, _share(c["volume_error"], c["pitch_right"])),
        "timbre_accuracy": np.where(no_expression, np.nan, _share(c["timbre_right"], c["pitch_right"])),
        "onsets_per_window": c["pred"] / np.maximum(c["windows"], 1),
        "true_onsets_per_window": c["true"] / np.maximum(c["windows"], 1),
    }


def voice_table(table: dict[str, np.ndarray]) -> dict:
    """{voice: {score: value}} and "mean" over the voices that define it, from (4,) arrays; None where
    undefined."""
    voices = {v: {k: rounded(table[k][i]) for k in table} for i, v in enumerate(VOICE_NAMES)}
    with np.errstate(invalid="ignore"):
        voices["mean"] = {k: rounded(np.nanmean(table[k])) if np.isfinite(table[k]).any() else None for k in table}
    return voices


def reconstruction_scores(pred, target) -> dict:
    """{voice: {score: value}} for every voice, with RECONSTRUCTION_SCORES, the onsets per window of
    both, and "mean" over voices. ``target``: the real windows with their volumes (so re-attacks count),
    ``pred``: the reconstructions of them. Values are None where undefined."""
    tallies = reconstruction_tallies(pred, target)
    return voice_table(scores_from_tallies({k: v.sum(axis=0) for k, v in tallies.items()}))


# --- interpolation paths ----------------------------------------------------------------------------

def crossfade_path(a, b, steps: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The data-space baseline: each cell of step k copied from B with probability t_k, else from A
    (one uniform draw per cell, so cells switch once and the path is monotone)."""
    a, b = np.asarray(a), np.asarray(b)
    u = rng.random(a.shape[:-1])[..., None] if a.shape[-1] == 3 and a.ndim >= 3 else rng.random(a.shape)
    return [np.where(u < k / (steps - 1), b, a) for k in range(steps)]


def step_report(step, a, b, reference: RealismReference | None = None, window: int | None = None) -> dict:
    """What one step of a blend sounds like: onsets per window and sounding share per voice, realism
    (mean typicality of its windows against ``reference``, cut every ``window`` frames) and warnings:
    the step is silent, or a voice that sounds in both inputs is silent in it."""
    x = np.asarray(step)
    frames = _notes(x).shape[-2]
    size = min(window or frames, frames) or 1
    count = max(1, frames // size)
    share, starts = sounding_share(x), onsets(x).reshape(-1, 4).sum(axis=0) / count
    in_a, in_b = sounding_share(a) > 0, sounding_share(b) > 0
    warnings = []
    if not share.any():
        warnings.append("silent: no voice sounds")
    else:
        for i, v in enumerate(VOICE_NAMES):
            if in_a[i] and in_b[i] and share[i] == 0:
                warnings.append(f"{v} is silent although it sounds in both A and B")
    out = {"onsets_per_window": {v: round(float(starts[i]), 3) for i, v in enumerate(VOICE_NAMES)},
           "sounding_share": {v: round(float(share[i]), 4) for i, v in enumerate(VOICE_NAMES)}}
    if reference is not None and x.ndim == 3 and x.shape[-1] == 3:
        usable = x[: count * size].reshape(count, size, 4, 3)
        mean, per_voice = typicality(usable, reference)
        out["realism"] = rounded(mean.mean())
        out["realism_voices"] = {v: rounded(np.nanmean(per_voice[:, i])) for i, v in enumerate(VOICE_NAMES)}
    out["warnings"] = warnings
    return out


def interpolation_report(path, a=None, b=None, reference: RealismReference | None = None,
                         window: int | None = None) -> dict:
    """The path's scores as plain numbers (strict JSON: None with a reason where undefined), for
    blend.json and reports: endpoint curves, monotonicity violations, step smoothness, the pitch-class
    morph (mean over the inner steps, and per step), and ``steps``: ``step_report`` of every step.
    ``a``/``b``: the inputs (scores with volumes), to score how the endpoints reconstruct them
    (``reconstruction_a``/``_b``) and to warn about voices that fall silent; ``reference``: realism per
    step against it, judged per ``window`` frames (the whole step when None)."""
    d_a, d_b = endpoint_curves(path)
    smooth = step_smoothness(path)
    report = {
        "endpoint_distance_a": [round(float(v), 4) for v in d_a],
        "endpoint_distance_b": [round(float(v), 4) for v in d_b],
        "monotonicity_violations": monotonicity_violations(path),
        "step_smoothness": rounded(smooth),
    }
    if report["step_smoothness"] is None:
        report["step_smoothness_reason"] = "the endpoints are equal, so there is no change to spread over steps"
    morph = pitch_class_morph(path)
    # The mean over the inner steps (the endpoints are 1 by construction); None when there are none.
    report["pitch_class_morph"] = round(float(np.mean(morph[1:-1])), 4) if len(morph) > 2 else None
    report["pitch_class_morph_steps"] = [round(float(v), 4) for v in morph]
    ref_a = a if a is not None else path[0]
    ref_b = b if b is not None else path[-1]
    report["steps"] = [step_report(x, ref_a, ref_b, reference, window) for x in path]
    if reference is not None and len(path) > 2:
        inner = [s["realism"] for s in report["steps"][1:-1] if s.get("realism") is not None]
        report["realism"] = rounded(np.mean(inner)) if inner else None
        report["realism_reference"] = {"real_windows_typicality": rounded(reference.typicality),
                                       "corpus_windows": reference.windows}
    if a is not None and b is not None:
        report["reconstruction_a"] = reconstruction_scores(path[0], a)
        report["reconstruction_b"] = reconstruction_scores(path[-1], b)
    return report


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
