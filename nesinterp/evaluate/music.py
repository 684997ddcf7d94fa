"""Held-out scores of a music model beside the baselines every table needs (evaluation.md, section 3):
how well it keeps the onsets and sounding pitches of unseen windows, compared with always-rest, one
constant note and sample-and-hold every 2, 4 and 8 frames on the same windows; how its interpolations
between unseen windows compare with the data-space crossfade; and the set-level realism of all of them
against the training corpus. ``write_music_report`` is what ``nesinterp eval RUN_DIR`` writes:
report.json, summary.md and two PNGs.

report.json's contract for other tools (docs/scores.md, section 5, lists every key): ``rows``, one
entry per model (its code as used, then at 8 and 4 bits per number) and per baseline, each ``{"name",
"kind": "model"|"baseline", "cost_numbers", "cost_bits", "voices": {"P1": {"onset_f1_tol1",
"pitch_onset_f1_tol1", "reattack_f1_tol1", "pitch_accuracy_sounding", ...}, ..., "mean": {...}},
"realism"}``; ``interpolation`` with the path scores of ``latent``, ``crossfade`` and ``switch``;
``realism`` with a ``metrics.realism.realism`` entry per set. Beside every figure ``X`` its 95 %
bootstrap interval over songs, ``X_ci95``: [low, high]. Numbers that are undefined are null.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..windows import score_windows
from ..latent import latent_path
from ..jsonio import plain, rounded
from ..metrics import (
    crossfade_path, endpoint_curves, monotonicity_violations, random_notes, reconstruction_baselines,
    step_smoothness,
)
from ..metrics.baselines import baseline_cost_bits, state_entropy_bits
from ..metrics.intervals import REPLICATES, bootstrap_weights, group_mean_interval, group_sums, interval, resample
from ..metrics.music import pitch_class_morph, reconstruction_tallies, scores_from_tallies, voice_table
from ..metrics.paths import path_scores, switch_path
from ..metrics.realism import APPLIES, FEATURES, RealismReference, realism_entry, realism_scores, window_features
from .music_files import plot_endpoint_curves, plot_interpolations, summary_markdown
from .report import EvalError, check_writable, json_writer, text_writer, write_report_files

VOICES = ("P1", "P2", "TR", "NO")
CORPUS_WINDOWS = 20000  # at most this many corpus windows make the realism reference (evenly spread, no seed)
REPORT_FILES = ("report.json", "summary.md", "endpoint_curves.png", "interpolations.png")
DEFAULT_WINDOWS = 384  # held-out windows scored by default (evenly spread): refining codes is the cost
QUANTISED_BITS = (8, 4)  # the model's code also scored at these bits per number
RANGE_WINDOWS = 1024  # train windows whose encoder codes give the range quantised codes span


def held_out_windows(split, window: int, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive windows of every song of a dataset split, and the song index of each."""
    stacks, owners = [], []
    for i in range(len(split)):
        w = score_windows(split.score(i), window)
        stacks.append(w)
        owners.append(np.full(len(w), i))
    if not stacks:
        return np.zeros((0, window, 4, 3), np.uint8), np.zeros(0, np.int64)
    windows, owner = np.concatenate(stacks), np.concatenate(owners)
    return (windows[:limit], owner[:limit]) if limit else (windows, owner)


def interpolation_pairs(owner: np.ndarray, pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (A, B) of ``pairs`` window pairs from different songs (``owner``: each window's song), as
    every interpolation score draws them from a generator seeded with the report's seed."""
    a_idx = rng.integers(0, len(owner), pairs)
    return a_idx, np.array([rng.choice(np.flatnonzero(owner != owner[i])) for i in a_idx])


def corpus_windows(split, window: int, limit: int = CORPUS_WINDOWS) -> np.ndarray:
    """At most ``limit`` of the consecutive windows of ``split`` (those of ``held_out_windows``), evenly
    spaced through the split and always the same ones, cutting only the songs they come from."""
    frames = np.diff(np.asarray(split.offsets, dtype=np.int64))
    counts = np.maximum(1, -(-frames // window))  # windows per song, as score_windows cuts them
    total = int(counts.sum())
    if total == 0:
        return np.zeros((0, window, 4, 3), np.uint8)
    chosen = evenly_spaced(total, limit)
    first = np.concatenate([[0], np.cumsum(counts)])
    song = np.searchsorted(first, chosen, side="right") - 1
    songs, begin = np.unique(song, return_index=True)
    end = np.append(begin[1:], len(chosen))
    parts = [score_windows(split.score(int(i)), window)[chosen[lo:hi] - first[i]]
             for i, lo, hi in zip(songs, begin, end)]
    return np.concatenate(parts)


def corpus_realism_reference(split, window: int, limit: int = CORPUS_WINDOWS) -> RealismReference:
    """The realism reference of a corpus split: the feature distributions of at most ``limit`` of its
    windows. Training stores it in model.json so any blend can be judged."""
    reference = corpus_windows(split, window, limit)
    if len(reference) == 0:
        raise EvalError(f"corpus split {getattr(split, 'name', '?')!r} has no songs to take a realism reference from")
    return RealismReference.from_windows(reference)



def evenly_spaced(total: int, limit: int | None) -> np.ndarray:
    """Indices of at most ``limit`` of ``total`` items (None or 0: all), evenly spaced, always the same
    and distinct."""
    if not limit or total <= limit:
        return np.arange(total)
    return np.floor(np.linspace(0, total - 1, limit)).astype(np.int64)  # distinct: step >= 1


def evaluation_windows(windows: np.ndarray, owner: np.ndarray, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """At most ``limit`` of the held-out windows (None or 0: all), evenly spaced through the split and
    always the same ones, with the song of each."""
    chosen = evenly_spaced(len(windows), limit)
    return windows[chosen], owner[chosen]


def _curve_band(curves: np.ndarray) -> dict:
    """Mean and quartiles over paths of per-step curves (paths, steps)."""
    return {"mean": [rounded(v) for v in curves.mean(axis=0)],
            "p25": [rounded(v) for v in np.percentile(curves, 25, axis=0)],
            "p75": [rounded(v) for v in np.percentile(curves, 75, axis=0)]}


def _ci(bounds) -> list:
    return [rounded(bounds[0]), rounded(bounds[1])]


def _centred(replicates: np.ndarray, point: np.ndarray) -> np.ndarray:
    """The interval (2, ...) of an overlap-based figure: the replicates' central 95 % moved so that
    their median sits on the set's own figure, within [0, 1]. An overlap is concave in the histogram,
    so a resampled set (songs drawn twice, others left out) overlaps less on average than the set
    itself; the percentile interval would then lie below the figure it qualifies."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        shift = np.asarray(point, np.float64) - np.nanmedian(replicates, axis=0)
    return np.clip(interval(replicates) + shift, 0.0, 1.0)


class _Songs:
    """The bootstrap over songs: each window's (or path's) song, renumbered 0..songs-1, and the
    replicates' weights, shared by every figure of a report so that their intervals are paired."""

    def __init__(self, owner: np.ndarray, seed: int):
        self.songs, self.of_window = np.unique(owner, return_inverse=True)
        self.weights = bootstrap_weights(len(self.songs), seed=seed)

    def index(self, owner: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.songs, owner)

    def realism(self, x: np.ndarray, group: np.ndarray, reference: RealismReference) -> dict:
        """``realism(x, reference)`` with intervals: score_ci95, voices_ci95, features_ci95."""
        counts = reference.bin_counts(window_features(x), group, len(self.songs))
        point = reference.overlap_from_counts(counts.sum(axis=0))
        entry = realism_entry(point, len(x))
        reps = reference.overlap_from_counts(resample(self.weights, counts))
        entry["score_ci95"] = _ci(_centred(realism_scores(reps), realism_scores(point)))
        voice = _centred(realism_scores(reps, per_voice=True), realism_scores(point, per_voice=True))
        entry["voices_ci95"] = {v: _ci(voice[:, i]) for i, v in enumerate(VOICES)}
        feature = _centred(reps, point)
        entry["features_ci95"] = {v: {f: _ci(feature[:, i, j]) for j, f in enumerate(FEATURES) if APPLIES[i, j]}
                                  for i, v in enumerate(VOICES)}
        return entry

    def reconstruction(self, output: np.ndarray, windows: np.ndarray) -> dict:
        """``reconstruction_scores`` with an ``X_ci95`` beside every figure ``X``."""
        per_song = {k: group_sums(v, self.of_window, len(self.songs))
                    for k, v in reconstruction_tallies(output, windows).items()}
        table = voice_table(scores_from_tallies({k: v.sum(axis=0) for k, v in per_song.items()}))
        reps = scores_from_tallies({k: resample(self.weights, v) for k, v in per_song.items()})
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a score no voice defines: NaN
            for key, values in reps.items():
                bounds = interval(values)
                for i, v in enumerate(VOICES):
                    table[v][f"{key}_ci95"] = _ci(bounds[:, i])
                table["mean"][f"{key}_ci95"] = _ci(interval(np.nanmean(values, axis=1)))
        return table

    def path_entry(self, stack: np.ndarray, song_a: np.ndarray, reference: RealismReference) -> tuple[dict, dict]:
        """The path scores of paths (steps, pairs, T, 4, 3) whose A windows come from ``song_a``: each
        the mean over paths with its interval, the realism of the inner steps, the endpoint curves; and
        the inner steps' full realism entry (None without inner steps)."""
        steps, pairs = stack.shape[:2]
        group = self.index(song_a)
        paths = [[stack[k, j] for k in range(steps)] for j in range(pairs)]
        per_path = dict(path_scores(stack, reference))
        per_path["monotonicity_violations"] = np.array([monotonicity_violations(p) for p in paths], np.float64)
        per_path["step_smoothness"] = np.array([step_smoothness(p) for p in paths])
        if steps > 2:
            per_path["pitch_class_morph"] = pitch_class_morph(stack)[1:-1].mean(axis=0)
        entry = {}
        for key, values in per_path.items():
            defined = np.isfinite(values)
            entry[key] = rounded(values[defined].mean()) if defined.any() else None
            entry[f"{key}_ci95"] = _ci(group_mean_interval(values, group, self.weights))
        inner = stack[1:-1].reshape(-1, *stack.shape[2:])
        real = self.realism(inner, np.tile(group, steps - 2), reference) if steps > 2 else None
        entry["realism"], entry["realism_ci95"] = (real["score"], real["score_ci95"]) if real else (None, None)
        curves = [endpoint_curves(p) for p in paths]
        entry["endpoint_distance_a"] = _curve_band(np.array([c[0] for c in curves]))
        entry["endpoint_distance_b"] = _curve_band(np.array([c[1] for c in curves]))
        return entry, real


def quantised(codes: torch.Tensor, low: torch.Tensor, high: torch.Tensor, bits: int) -> torch.Tensor:
    """``codes`` at ``bits`` bits per number: uniform levels over [low, high] (per dimension, the
    encoder's range on train), values outside clipped to it."""
    levels = 2 ** bits - 1
    span = (high - low).clamp_min(1e-12)
    return low + torch.round((codes.clamp(low, high) - low) / span * levels) / levels * span


def _coded(model, windows: np.ndarray, refine, batch: int, progress=None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Every window's codes (and expression codes), ``batch`` windows at a time, with progress."""
    codes, expression = [], []
    for i in range(0, len(windows), batch):
        z, e = model.codes(windows[i:i + batch], refine)
        codes.append(z)
        expression.append(e)
        if progress is not None:
            progress(min(i + batch, len(windows)), len(windows))
    return torch.cat(codes), None if expression[0] is None else torch.cat(expression)


def _decoded(model, codes, expression, batch: int) -> np.ndarray:
    return np.concatenate([model.decode_windows(codes[i:i + batch],
                                                expression=None if expression is None else expression[i:i + batch])
                           for i in range(0, len(codes), batch)])


def decoded_paths(model, codes, expression, a_idx: np.ndarray, b_idx: np.ndarray, steps: int, mode: str,
                  batch: int) -> np.ndarray:
    """The latent paths (steps, pairs, T, 4, 3) from the windows ``a_idx`` to ``b_idx`` of ``codes`` (and
    of the expression codes where there are some), decoded ``batch`` codes at a time."""
    pairs = len(a_idx)
    path = latent_path(codes[a_idx], codes[b_idx], steps, mode).reshape(steps * pairs, -1)
    path_e = (None if expression is None else
              latent_path(expression[a_idx], expression[b_idx], steps, mode).reshape(steps * pairs, -1))
    stack = _decoded(model, path, path_e, batch)
    return stack.reshape(steps, pairs, *stack.shape[1:])


def _score_music(model, split, pairs: int, steps: int, seed: int, batch: int, corpus,
                 corpus_limit: int, mode: str = "slerp", refine: int | None = None,
                 windows_limit: int | None = DEFAULT_WINDOWS, progress=None
                 ) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """The report of ``evaluate_music``, the latent paths (steps, pairs, T, 4, 3) and the song of each
    path's A and B (for the pictures)."""
    if len(split) < 2:
        raise EvalError(f"split {getattr(split, 'name', '?')!r} has {len(split)} song(s); interpolating "
                        "between songs needs at least 2")
    if steps < 2:
        raise EvalError(f"steps must be at least 2 (it counts both endpoints), not {steps}")
    if pairs < 1:
        raise EvalError(f"pairs must be at least 1, not {pairs}")
    all_windows, all_owner = held_out_windows(split, model.window)
    windows, owner = evaluation_windows(all_windows, all_owner, windows_limit)
    if len(np.unique(owner)) < 2:
        raise EvalError(f"the {len(windows)} windows scored come from one song; interpolating needs two "
                        "(score more windows)")

    # The realism reference: the corpus (typically the train split), else the held-out windows themselves.
    reference_windows = corpus_windows(corpus, model.window, corpus_limit) if corpus is not None else all_windows
    if corpus is not None and len(reference_windows) == 0:
        raise EvalError(f"corpus split {getattr(corpus, 'name', '?')!r} has no songs to take a realism reference from")
    reference = RealismReference.from_windows(reference_windows)
    entropy = state_entropy_bits(reference_windows)

    # Codes once for every scored window: reconstructions, quantised codes and the paths' ends reuse them.
    codes, expression = _coded(model, windows, refine, batch, progress)
    recon = _decoded(model, codes, expression, batch)
    songs = _Songs(owner, seed)
    numbers = (1 if expression is None else 2) * model.latent_dim  # expression codes: a second code
    name = model.describe().get("name") or "model"
    realism_sets = {}

    def row(row_name, kind, output, cost_numbers, cost_bits, set_name):
        real = realism_sets[set_name] = songs.realism(output, songs.of_window, reference)
        return {"name": row_name, "kind": kind, "cost_numbers": cost_numbers, "cost_bits": cost_bits,
                "voices": songs.reconstruction(output, windows), "realism": real["score"],
                "realism_ci95": real["score_ci95"]}

    rows = [row(name, "model", recon, numbers, 32 * numbers, "reconstructions")]
    # the encoder's range on train (its own codes, unrefined), for codes at fewer bits
    encoded = _coded(model, reference_windows[evenly_spaced(len(reference_windows), RANGE_WINDOWS)], 0, batch)[0]
    low, high = encoded.min(dim=0).values, encoded.max(dim=0).values
    for bits in QUANTISED_BITS:
        q = _decoded(model, quantised(codes, low, high, bits),
                     None if expression is None else quantised(expression, low, high, bits), batch)
        rows.append(row(f"{name}, code at {bits} bits", "model", q, numbers, bits * numbers,
                        f"reconstructions_{bits}_bits"))
    for base, (output, cost) in reconstruction_baselines(windows).items():
        rows.append(row(base, "baseline", output, cost, rounded(baseline_cost_bits(cost // 4, entropy)), base))

    rng = np.random.default_rng(seed)
    a_idx, b_idx = interpolation_pairs(owner, pairs, rng)
    latent = decoded_paths(model, codes, expression, a_idx, b_idx, steps, mode, batch)
    fade = np.stack([np.stack(crossfade_path(windows[a], windows[b], steps, rng)) for a, b in zip(a_idx, b_idx)],
                    axis=1)
    switch = np.stack(switch_path(windows[a_idx], windows[b_idx], steps))

    for name_, x in (("real_heldout", windows), ("random_notes", random_notes(windows, seed))):
        realism_sets[name_] = songs.realism(x, songs.of_window, reference)
    interpolation = {"pairs": pairs, "steps": steps}
    for method, stack in (("latent", latent), ("crossfade", fade), ("switch", switch)):
        interpolation[method], realism_sets[f"{method}_mid_path"] = songs.path_entry(stack, owner[a_idx], reference)
    report = {
        "windows": int(len(windows)),
        "windows_in_split": int(len(all_windows)),
        "songs": int(len(songs.songs)),
        "songs_in_split": len(split),
        "state_entropy_bits": {v: rounded(entropy[i]) for i, v in enumerate(VOICES)},
        "rows": rows,
        "interpolation": interpolation,
        "realism": {
            "reference": {"split": getattr(corpus, "name", None) if corpus is not None else getattr(split, "name", None),
                          "windows": int(len(reference_windows)), "typicality": rounded(reference.typicality)},
            "method": "overlap of per-voice feature distributions with the reference's (10 quantile bins and "
                      "one for undefined), geometric mean over the scored features; see nesinterp.metrics.realism",
            **realism_sets,
        },
    }
    return report, latent, owner[a_idx], owner[b_idx]


def evaluate_music(model, split, pairs: int = 64, steps: int = 8, seed: int = 0, batch: int = 256,
                   corpus=None, corpus_limit: int = CORPUS_WINDOWS, mode: str = "slerp",
                   refine: int | None = None, windows: int | None = DEFAULT_WINDOWS, progress=None) -> dict:
    """Score ``model`` on ``windows`` windows of ``split`` (evenly spread; None or 0: every window) beside
    the baselines, and ``pairs`` interpolations between windows of different songs beside the crossfade
    and the abrupt switch (the module docstring has the layout), every figure with its 95 % bootstrap
    interval over songs.

    Realism is judged against ``corpus`` (a Split, typically the train split; at most ``corpus_limit``
    of its windows, evenly spaced) or, without one, against ``split`` itself. ``progress(done, total)``
    is called as the windows are coded."""
    return _score_music(model, split, pairs, steps, seed, batch, corpus, corpus_limit, mode, refine,
                        windows, progress)[0]


# --- the report folder -------------------------------------------------------------------------------

def write_music_report(model, dataset_dir, out_dir, split: str = "valid", pairs: int = 64, steps: int = 8,
                       seed: int = 0, force: bool = False, mode: str = "slerp", refine: int | None = None,
                       windows: int | None = DEFAULT_WINDOWS, progress=None) -> dict:
    """Score ``model`` on ``split`` of the dataset at ``dataset_dir`` (realism against its train split),
    its codes refined by ``refine`` steps (None: the model's own, as blend does), and write report.json, summary.md, endpoint_curves.png and interpolations.png into ``out_dir``.

    Everything is written to a temporary folder inside ``out_dir`` first and moved into place only when
    complete; existing report files are replaced only with ``force`` (else EvalError, before any work).
    Returns the report as written to report.json."""
    from data_prep.dataset import Dataset

    check_writable(out_dir, REPORT_FILES, force)  # before any work
    dataset = Dataset(dataset_dir)
    held_out = dataset.split(split)
    corpus = dataset.split("train") if "train" in dataset.splits else None
    scores, latent, song_a, song_b = _score_music(model, held_out, pairs, steps, seed, 256, corpus, CORPUS_WINDOWS,
                                                  mode, refine, windows, progress)
    report = {
        "tool": "nesinterp eval",
        "model": model.describe(),
        "arguments": {"dataset": str(dataset_dir), "split": split, "pairs": pairs, "steps": steps, "seed": seed,
                      "interpolation_mode": mode, "corpus_split": corpus.name if corpus is not None else None,
                      "refine_steps": model.refine_steps if refine is None else refine,
                      "windows": windows or None, "bootstrap_replicates": REPLICATES},
        **scores,
        "files": list(REPORT_FILES),
    }
    report = plain(report)  # as the file holds it: plain types, None for anything not a number
    write_report_files(out_dir, {
        "report.json": json_writer(report),
        "summary.md": text_writer(summary_markdown(report)),
        "endpoint_curves.png": lambda path: plot_endpoint_curves(report, path),
        "interpolations.png": lambda path: plot_interpolations(latent, song_a, song_b, held_out, path),
    }, force)
    return report
