"""Two or more music models scored on the same held-out windows and the same interpolation pairs, each
one's figures beside the first's, and every difference with a **paired** 95 % bootstrap interval over
songs: each replicate draws the same songs for every model, so what the songs themselves contribute
(hard songs are hard for both) cancels in the difference. Two models whose own intervals overlap can
still differ by an interval that excludes 0; one that includes 0 is no difference.

``paired_comparison`` gives the figures; ``comparison_markdown`` the table that
``benchmarks/experiments/paired_compare.py`` prints. The windows, pairs and replicate weights are
those of ``nesinterp eval`` with the same seed, so each model's own figures equal its report's.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..jsonio import rounded
from ..metrics.intervals import bootstrap_weights, group_mean_interval, group_sums, interval, resample
from ..metrics.music import reconstruction_tallies, scores_from_tallies
from ..metrics.paths import path_scores
from .music import _coded, _decoded, decoded_paths, evaluation_windows, held_out_windows, interpolation_pairs
from .report import EvalError

VOICES = ("P1", "P2", "TR", "NO")
RECONSTRUCTION = ("pitch_onset_f1_tol1", "pitch_onset_ratio", "onset_f1_tol1", "pitch_accuracy_sounding",
                  "reattack_ratio", "volume_error")
PATHS = ("linearity_error", "backward_movement", "first_step_share", "last_step_share")


def paired_comparison(models: dict, split, pairs: int = 256, steps: int = 8, seed: int = 0,
                      windows: int | None = None, mode: str = "slerp", batch: int = 256) -> dict:
    """``models``: name -> (TrainedModel, refine steps or None for the model's own), the first the
    reference. Returns {"windows", "songs", "pairs", "names", "reconstruction": {figure: {voice or
    "mean": {name: value, name + "_ci95": [lo, hi], and for every other model name + "_minus_first"
    and name + "_minus_first_ci95"}}}, "paths": {figure: {the same, over the pairs}}}."""
    if len(models) < 2:
        raise EvalError("a comparison needs at least two models")
    window = {m.window for m, _ in models.values()}
    if len(window) != 1:
        raise EvalError(f"the models cut different windows ({sorted(window)} frames); compare models of one window")
    all_windows, all_owner = held_out_windows(split, window.pop())
    scored, owner = evaluation_windows(all_windows, all_owner, windows)
    songs, of_window = np.unique(owner, return_inverse=True)
    if len(songs) < 2:
        raise EvalError("the windows scored come from one song; a comparison needs two")
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a figure no voice defines: NaN
        return _compared(models, scored, owner, songs, of_window, pairs, steps, seed, mode, batch)


def _compared(models, scored, owner, songs, of_window, pairs, steps, seed, mode, batch) -> dict:
    names = list(models)
    weights = bootstrap_weights(len(songs), seed=seed)
    a_idx, b_idx = interpolation_pairs(owner, pairs, np.random.default_rng(seed))
    path_group = np.searchsorted(songs, owner[a_idx])

    recon_reps, recon_point, path_values = {}, {}, {}
    for name, (model, refine) in models.items():
        codes, expression = _coded(model, scored, refine, batch)
        output = _decoded(model, codes, expression, batch)
        per_song = {k: group_sums(v, of_window, len(songs)) for k, v in reconstruction_tallies(output, scored).items()}
        recon_point[name] = scores_from_tallies({k: v.sum(axis=0) for k, v in per_song.items()})
        recon_reps[name] = scores_from_tallies({k: resample(weights, v) for k, v in per_song.items()})
        path_values[name] = path_scores(decoded_paths(model, codes, expression, a_idx, b_idx, steps, mode, batch))

    out = {"windows": int(len(scored)), "songs": int(len(songs)), "pairs": int(len(a_idx)), "names": names,
           "reconstruction": {}, "paths": {}}
    first = names[0]
    for key in RECONSTRUCTION:
        table = out["reconstruction"][key] = {}
        for i, voice in enumerate((*VOICES, "mean")):
            def pick(scores):  # (..., 4) -> the voice's column, or the voices' mean
                return scores[..., i] if voice != "mean" else np.nanmean(scores, axis=-1)
            cell = table[voice] = {}
            for name in names:
                cell[name] = _value(pick(recon_point[name][key]))
                cell[f"{name}_ci95"] = _bounds(interval(pick(recon_reps[name][key])))
                if name != first:
                    cell[f"{name}_minus_first"] = _value(pick(recon_point[name][key]) - pick(recon_point[first][key]))
                    cell[f"{name}_minus_first_ci95"] = _bounds(interval(pick(recon_reps[name][key])
                                                                        - pick(recon_reps[first][key])))
    for key in PATHS:
        cell = out["paths"][key] = {}
        for name in names:
            values = path_values[name][key]
            cell[name] = _value(np.nanmean(values))
            cell[f"{name}_ci95"] = _bounds(group_mean_interval(values, path_group, weights))
            if name != first:
                diff = values - path_values[first][key]
                cell[f"{name}_minus_first"] = _value(np.nanmean(diff))
                cell[f"{name}_minus_first_ci95"] = _bounds(group_mean_interval(diff, path_group, weights))
    return out


DIGITS = 6  # differences of a few thousandths keep their digits


def _value(x) -> float | None:
    return rounded(x, DIGITS)


def _bounds(b) -> list:
    return [rounded(b[0], DIGITS), rounded(b[1], DIGITS)]


def comparison_markdown(result: dict) -> str:
    """Markdown tables: per figure (and per voice), each model's value [interval], and each model's
    difference from the first [paired interval], starred where the interval excludes 0."""
    names, first = result["names"], result["names"][0]

    def fmt(cell, key):
        value, ci = cell.get(key), cell.get(f"{key}_ci95") or [None, None]
        if value is None:
            return "n/a"
        text = f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci[0] is not None else f"{value:.3f}"
        if key.endswith("_minus_first") and ci[0] is not None and (ci[0] > 0 or ci[1] < 0):
            text = f"**{text}**"
        return text

    head = "| figure | " + " | ".join(names) + " | " + " | ".join(f"{n} - {first}" for n in names[1:]) + " |"
    rule = "|---|" + "---:|" * (2 * len(names) - 1)
    lines = [f"{result['windows']} windows from {result['songs']} songs, {result['pairs']} pairs; differences "
             "with paired 95 % intervals over songs (bold: the interval excludes 0).", "", head, rule]
    for key, table in result["reconstruction"].items():
        for voice in ("mean", *VOICES):
            cell = table[voice]
            label = key if voice == "mean" else f"{key} {voice}"
            lines.append(f"| {label} | " + " | ".join(fmt(cell, n) for n in names) + " | "
                         + " | ".join(fmt(cell, f"{n}_minus_first") for n in names[1:]) + " |")
    for key, cell in result["paths"].items():
        lines.append(f"| path {key} | " + " | ".join(fmt(cell, n) for n in names) + " | "
                     + " | ".join(fmt(cell, f"{n}_minus_first") for n in names[1:]) + " |")
    return "\n".join(lines) + "\n"
