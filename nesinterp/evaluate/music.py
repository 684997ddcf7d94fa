"""Held-out scores of a music model: how well it reconstructs unseen windows, and how its
interpolations between unseen windows compare with the data-space crossfade (evaluation.md, section 3).
``write_music_report`` is what ``nesinterp eval RUN_DIR`` writes: report.json, summary.md and two PNGs.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

from ..data import score_windows
from ..metrics import crossfade_path, endpoint_curves, monotonicity_violations, note_accuracy, onset_f1, step_smoothness
from ..metrics.music import VOICE_FEATURES, corpus_ranges, pitch_class_morph, realism, voice_statistics
from .report import EvalError, check_writable, json_writer, plain, text_writer, write_report_files

VOICES = ("P1", "P2", "TR", "NO")
CORPUS_WINDOWS = 20000  # at most this many corpus windows set the realism ranges (evenly spread, no seed)
REALISM_PERCENTILES = (5, 95)
REPORT_FILES = ("report.json", "summary.md", "endpoint_curves.png", "interpolations.png")
PLOTTED_INTERPOLATIONS = 3


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


def corpus_windows(split, window: int, limit: int = CORPUS_WINDOWS) -> np.ndarray:
    """At most ``limit`` of the consecutive windows of ``split`` (those of ``held_out_windows``), evenly
    spaced through the split and always the same ones, cutting only the songs they come from."""
    frames = np.diff(np.asarray(split.offsets, dtype=np.int64))
    counts = np.maximum(1, -(-frames // window))  # windows per song, as score_windows cuts them
    total = int(counts.sum())
    if total == 0:
        return np.zeros((0, window, 4, 3), np.uint8)
    chosen = (np.arange(total) if total <= limit
              else np.floor(np.linspace(0, total - 1, limit)).astype(np.int64))  # distinct: step >= 1
    first = np.concatenate([[0], np.cumsum(counts)])
    song = np.searchsorted(first, chosen, side="right") - 1
    songs, begin = np.unique(song, return_index=True)
    end = np.append(begin[1:], len(chosen))
    parts = [score_windows(split.score(int(i)), window)[chosen[lo:hi] - first[i]]
             for i, lo, hi in zip(songs, begin, end)]
    return np.concatenate(parts)


def corpus_realism_ranges(split, window: int, limit: int = CORPUS_WINDOWS) -> np.ndarray:
    """The realism ranges (4, F, 2) of a corpus split: REALISM_PERCENTILES of the voice statistics of at
    most ``limit`` of its windows. Training stores them in model.json so any blend can be judged."""
    reference = corpus_windows(split, window, limit)
    if len(reference) == 0:
        raise EvalError(f"corpus split {getattr(split, 'name', '?')!r} has no songs to take realism ranges from")
    return corpus_ranges(voice_statistics(reference), *REALISM_PERCENTILES)


def _realism_entry(stats, ranges) -> dict:
    share, inside = realism(stats, ranges)
    return {"share": _round(share), "inside": {v: {f: _round(inside[i, j]) for j, f in enumerate(VOICE_FEATURES)}
                                               for i, v in enumerate(VOICES)}}


def _round(x, digits: int = 4):
    """A float for JSON: rounded, and None where it is not a number."""
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


def _curve_band(curves: np.ndarray) -> dict:
    """Mean and quartiles over paths of per-step curves (paths, steps)."""
    return {"mean": [_round(v) for v in curves.mean(axis=0)],
            "p25": [_round(v) for v in np.percentile(curves, 25, axis=0)],
            "p75": [_round(v) for v in np.percentile(curves, 75, axis=0)]}


def _score_music(model, split, pairs: int, steps: int, seed: int, batch: int, corpus,
                 corpus_limit: int) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """The report of ``evaluate_music``, the latent paths (steps, pairs, T, 4, 3) and the song of each
    path's A and B (for the pictures)."""
    if len(split) < 2:
        raise EvalError(f"split {getattr(split, 'name', '?')!r} has {len(split)} song(s); interpolating "
                        "between songs needs at least 2")
    if steps < 2:
        raise EvalError(f"steps must be at least 2 (it counts both endpoints), not {steps}")
    if pairs < 1:
        raise EvalError(f"pairs must be at least 1, not {pairs}")
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

    # Realism ranges from the corpus (typically the train split), else from the held-out windows.
    reference = corpus_windows(corpus, model.window, corpus_limit) if corpus is not None else windows
    if corpus is not None and len(reference) == 0:
        raise EvalError(f"corpus split {getattr(corpus, 'name', '?')!r} has no songs to take realism ranges from")
    ranges = corpus_ranges(voice_statistics(reference), *REALISM_PERCENTILES)

    def path_scores(paths, stack):  # stack: (steps, pairs, T, 4, 3)
        smooth = [step_smoothness(p) for p in paths]
        curves = [endpoint_curves(p) for p in paths]
        inner = stack[1:-1].reshape(-1, *stack.shape[2:])  # no inner steps when steps == 2: None below
        return {"monotonicity_violations": round(float(np.mean([monotonicity_violations(p) for p in paths])), 3),
                "step_smoothness": round(float(np.nanmean(smooth)), 4) if not np.all(np.isnan(smooth)) else None,
                "realism": _realism_entry(voice_statistics(inner), ranges),
                "pitch_class_morph": _round(pitch_class_morph(stack)[1:-1].mean()) if steps > 2 else None,
                "endpoint_distance_a": _curve_band(np.array([c[0] for c in curves])),
                "endpoint_distance_b": _curve_band(np.array([c[1] for c in curves]))}

    report = {
        "windows": int(len(windows)),
        "songs": len(split),
        "reconstruction_accuracy": {v: round(float(x), 4) for v, x in zip(VOICES, acc)},
        "reconstruction_accuracy_mean": round(float(acc.mean()), 4),
        "onset_f1": {v: round(float(x), 4) for v, x in zip(VOICES, f1)},
        "interpolation": {"pairs": pairs, "steps": steps, "latent": path_scores(ours, latent),
                          "crossfade": path_scores(fades, np.stack([np.stack(p) for p in fades], axis=1))},
        "realism": {
            "corpus": {"split": getattr(corpus, "name", None) if corpus is not None else getattr(split, "name", None),
                       "windows": int(len(reference)), "percentiles": list(REALISM_PERCENTILES)},
            "features": list(VOICE_FEATURES),
            "ranges": {v: {f: [_round(x) for x in ranges[i, j]] for j, f in enumerate(VOICE_FEATURES)}
                       for i, v in enumerate(VOICES)},
            "held_out": _realism_entry(voice_statistics(windows), ranges),
            "reconstructions": _realism_entry(voice_statistics(recon), ranges),
        },
    }
    return report, latent, owner[a_idx], owner[b_idx]


def evaluate_music(model, split, pairs: int = 64, steps: int = 8, seed: int = 0, batch: int = 256,
                   corpus=None, corpus_limit: int = CORPUS_WINDOWS) -> dict:
    """Reconstruction accuracy and onset F1 per voice over every window of ``split``, and the mean
    path scores of ``pairs`` interpolations between windows of different songs, beside the crossfade:
    monotonicity violations, step smoothness, endpoint curves (mean and quartiles per step), realism of
    the inner steps and their pitch-class morph.

    Realism is judged against the 5-95 % ranges of ``corpus`` (a Split, typically the train split; at
    most ``corpus_limit`` of its windows, evenly spaced) or, without one, of ``split`` itself; the
    real held-out windows and the model's reconstructions of them are scored too, as reference lines."""
    return _score_music(model, split, pairs, steps, seed, batch, corpus, corpus_limit)[0]


# --- the report folder -------------------------------------------------------------------------------

def _plot_endpoint_curves(report: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    interp = report["interpolation"]
    k = np.arange(interp["steps"])
    fig = Figure(figsize=(7.0, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for method, style in (("latent", "-"), ("crossfade", "--")):
        for end, color in (("a", "tab:blue"), ("b", "tab:orange")):
            curve = interp[method][f"endpoint_distance_{end}"]
            mean, lo, hi = (np.array(curve[q], dtype=float) for q in ("mean", "p25", "p75"))
            ax.plot(k, mean, style, color=color, marker="o", ms=3, label=f"{method}: d_{end.upper()}(k)")
            ax.fill_between(k, lo, hi, color=color, alpha=0.12 if method == "latent" else 0.06, lw=0)
    ax.set_xlabel("step k")
    ax.set_ylabel("share of (frame, voice) cells differing")
    ax.set_title(f"Endpoint distance, mean over {interp['pairs']} pairs (band: 25-75 %)", fontsize=10)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xticks(k)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _plot_interpolations(latent: np.ndarray, song_a, song_b, split, path: Path) -> None:
    """Piano rolls of the first few latent paths, one plot_piano_roll row block per path, stacked."""
    import matplotlib.image

    from ..render import plot_piano_roll
    from ..score import Score

    steps = latent.shape[0]
    blocks = []
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        for j in range(min(PLOTTED_INTERPOLATIONS, latent.shape[1])):
            names = (split.songs[song_a[j]].name[:24], split.songs[song_b[j]].name[:24])
            titles = [f"A~ {names[0]}" if k == 0 else f"B~ {names[1]}" if k == steps - 1 else f"t={k / (steps - 1):.2f}"
                      for k in range(steps)]
            scores = [Score(np.ascontiguousarray(latent[k, j]), f"pair-{j}-step-{k}", "nesinterp eval")
                      for k in range(steps)]
            png = plot_piano_roll(scores, Path(scratch) / f"pair-{j}.png", titles)
            blocks.append(matplotlib.image.imread(png))
    width = max(b.shape[1] for b in blocks)
    blocks = [np.pad(b, ((0, 0), (0, width - b.shape[1]), (0, 0)), constant_values=1.0) for b in blocks]
    matplotlib.image.imsave(path, np.concatenate(blocks, axis=0))


def _summary_markdown(report: dict) -> str:
    def cell(x, fmt="{:.3f}"):
        return "n/a" if x is None else fmt.format(x)

    interp, real = report["interpolation"], report["realism"]
    lat, fade = interp["latent"], interp["crossfade"]
    model, args = report["model"], report["arguments"]
    lines = [
        f"# Music evaluation: {model.get('name') or model.get('source')}",
        "",
        f"Model `{model.get('source')}` (step {model.get('step')}, latent {model.get('latent_dim')}), "
        f"split `{args['split']}` of `{args['dataset']}`: {report['songs']} songs, {report['windows']} windows. "
        f"{interp['pairs']} pairs of windows from different songs, {interp['steps']} steps each "
        f"(endpoints included). Realism: share of interpolants whose per-voice statistics all lie inside the "
        f"{real['corpus']['percentiles'][0]}-{real['corpus']['percentiles'][1]} % range of "
        f"{real['corpus']['windows']} `{real['corpus']['split']}` windows.",
        "",
        "| inner steps | latent | crossfade |",
        "|---|---:|---:|",
        f"| monotonicity violations per path (lower is better) | {cell(lat['monotonicity_violations'], '{:.2f}')} "
        f"| {cell(fade['monotonicity_violations'], '{:.2f}')} |",
        f"| step smoothness (0 = even steps, about 1 = abrupt) | {cell(lat['step_smoothness'])} "
        f"| {cell(fade['step_smoothness'])} |",
        f"| realism (higher is better) | {cell(lat['realism']['share'])} | {cell(fade['realism']['share'])} |",
        f"| pitch-class morph cosine (1 = follows the mixture) | {cell(lat['pitch_class_morph'])} "
        f"| {cell(fade['pitch_class_morph'])} |",
        "",
        f"Reference realism: real held-out windows {cell(real['held_out']['share'])}, the model's "
        f"reconstructions of them {cell(real['reconstructions']['share'])}.",
        "",
        "| reconstruction | " + " | ".join(VOICES) + " | mean |",
        "|---|" + "---:|" * (len(VOICES) + 1),
        "| note accuracy | " + " | ".join(cell(report["reconstruction_accuracy"][v]) for v in VOICES)
        + f" | {cell(report['reconstruction_accuracy_mean'])} |",
        "| onset F1 | " + " | ".join(cell(report["onset_f1"][v]) for v in VOICES)
        + f" | {cell(float(np.mean([report['onset_f1'][v] for v in VOICES])))} |",
        "",
    ]
    return "\n".join(lines)


def write_music_report(model, dataset_dir, out_dir, split: str = "valid", pairs: int = 64, steps: int = 8,
                       seed: int = 0, force: bool = False) -> dict:
    """Score ``model`` on ``split`` of the dataset at ``dataset_dir`` (realism against its train split)
    and write report.json, summary.md, endpoint_curves.png and interpolations.png into ``out_dir``.

    Everything is written to a temporary folder inside ``out_dir`` first and moved into place only when
    complete; existing report files are replaced only with ``force`` (else EvalError, before any work).
    Returns the report as written to report.json."""
    from data_prep.dataset import Dataset

    check_writable(out_dir, REPORT_FILES, force)  # before any work
    dataset = Dataset(dataset_dir)
    held_out = dataset.split(split)
    corpus = dataset.split("train") if "train" in dataset.splits else None
    scores, latent, song_a, song_b = _score_music(model, held_out, pairs, steps, seed, 256, corpus, CORPUS_WINDOWS)
    report = {
        "tool": "nesinterp eval",
        "model": model.describe(),
        "arguments": {"dataset": str(dataset_dir), "split": split, "pairs": pairs, "steps": steps, "seed": seed,
                      "interpolation_mode": "slerp", "corpus_split": corpus.name if corpus is not None else None},
        **scores,
        "files": list(REPORT_FILES),
    }
    report = plain(report)  # as the file holds it: plain types, None for anything not a number
    write_report_files(out_dir, {
        "report.json": json_writer(report),
        "summary.md": text_writer(_summary_markdown(report)),
        "endpoint_curves.png": lambda path: _plot_endpoint_curves(report, path),
        "interpolations.png": lambda path: _plot_interpolations(latent, song_a, song_b, held_out, path),
    }, force)
    return report
