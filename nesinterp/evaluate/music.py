"""Held-out scores of a music model beside the baselines every table needs (evaluation.md, section 3):
how well it keeps the onsets and sounding pitches of unseen windows, compared with always-rest, one
constant note and sample-and-hold every 2, 4 and 8 frames on the same windows; how its interpolations
between unseen windows compare with the data-space crossfade; and the set-level realism of all of them
against the training corpus. ``write_music_report`` is what ``nesinterp eval RUN_DIR`` writes:
report.json, summary.md and two PNGs.

report.json's contract for other tools: ``rows``, one entry per model and per baseline, each
``{"name", "kind": "model"|"baseline", "cost_numbers", "voices": {"P1": {"onset_f1", "onset_f1_tol1",
"onset_ratio", "pitch_accuracy_sounding", "note_accuracy", "loudness_ratio", "volume_error", "timbre_accuracy", ...}, ...,
"mean": {...}}, "realism"}``;
``realism`` with ``real_heldout``, ``latent_mid_path``, ``crossfade_mid_path``, ``always_rest``,
``constant_note``, ``random_notes``, ``reconstructions`` and the hold baselines, each a
``metrics.realism.realism`` entry (score, per voice, per feature); ``interpolation`` with the path
scores of ``latent`` and ``crossfade``. Numbers that are undefined are null.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..data import score_windows
from ..metrics import (
    crossfade_path, endpoint_curves, monotonicity_violations, random_notes, reconstruction_baselines,
    reconstruction_scores, step_smoothness,
)
from ..metrics.music import pitch_class_morph
from ..metrics.realism import RealismReference, realism
from ..jsonio import plain, rounded
from .report import EvalError, check_writable, json_writer, text_writer, write_report_files

VOICES = ("P1", "P2", "TR", "NO")
CORPUS_WINDOWS = 20000  # at most this many corpus windows make the realism reference (evenly spread, no seed)
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
    chosen = (np.arange(total) if total <= limit
              else np.floor(np.linspace(0, total - 1, limit)).astype(np.int64))  # distinct: step >= 1
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



def _curve_band(curves: np.ndarray) -> dict:
    """Mean and quartiles over paths of per-step curves (paths, steps)."""
    return {"mean": [rounded(v) for v in curves.mean(axis=0)],
            "p25": [rounded(v) for v in np.percentile(curves, 25, axis=0)],
            "p75": [rounded(v) for v in np.percentile(curves, 75, axis=0)]}


def _score_music(model, split, pairs: int, steps: int, seed: int, batch: int, corpus,
                 corpus_limit: int, mode: str = "slerp", refine: int | None = None
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
    windows, owner = held_out_windows(split, model.window)
    recon = np.concatenate([model.reconstruct(windows[i:i + batch], refine) for i in range(0, len(windows), batch)])

    # The realism reference: the corpus (typically the train split), else the held-out windows themselves.
    reference_windows = corpus_windows(corpus, model.window, corpus_limit) if corpus is not None else windows
    if corpus is not None and len(reference_windows) == 0:
        raise EvalError(f"corpus split {getattr(corpus, 'name', '?')!r} has no songs to take a realism reference from")
    reference = RealismReference.from_windows(reference_windows)

    # Reconstruction: the model and every baseline scored by the same code against the real windows
    # (volumes included, so re-attacks count).
    refined = (model.refine_steps if refine is None else refine) > 0
    codes_per_window = 2 if model.expression_codes and refined else 1  # expression codes: a second code
    rows = [{"name": model.describe().get("name") or "model", "kind": "model",
             "cost_numbers": codes_per_window * model.latent_dim,
             "voices": reconstruction_scores(recon, windows), "realism": realism(recon, reference)["score"]}]
    outputs = {"reconstructions": recon}
    for name, (output, cost) in reconstruction_baselines(windows).items():
        rows.append({"name": name, "kind": "baseline", "cost_numbers": cost,
                     "voices": reconstruction_scores(output, windows), "realism": realism(output, reference)["score"]})
        outputs[name] = output

    rng = np.random.default_rng(seed)
    a_idx, b_idx = interpolation_pairs(owner, pairs, rng)
    latent = model.interpolate(windows[a_idx], windows[b_idx], steps, mode, refine=refine)  # (steps, pairs, T, 4, 3)
    fade = np.stack([np.stack(crossfade_path(windows[a], windows[b], steps, rng)) for a, b in zip(a_idx, b_idx)],
                    axis=1)

    def path_scores(stack):  # stack: (steps, pairs, T, 4, 3)
        paths = [[stack[k, j] for k in range(steps)] for j in range(stack.shape[1])]
        smooth = np.array([step_smoothness(p) for p in paths])
        curves = [endpoint_curves(p) for p in paths]
        return {"monotonicity_violations": round(float(np.mean([monotonicity_violations(p) for p in paths])), 3),
                "step_smoothness": rounded(np.nanmean(smooth)) if not np.all(np.isnan(smooth)) else None,
                "realism": realism(stack[1:-1].reshape(-1, *stack.shape[2:]), reference)["score"],
                "pitch_class_morph": rounded(pitch_class_morph(stack)[1:-1].mean()) if steps > 2 else None,
                "endpoint_distance_a": _curve_band(np.array([c[0] for c in curves])),
                "endpoint_distance_b": _curve_band(np.array([c[1] for c in curves]))}

    sets = {"real_heldout": windows,
            "latent_mid_path": latent[1:-1].reshape(-1, *latent.shape[2:]),
            "crossfade_mid_path": fade[1:-1].reshape(-1, *fade.shape[2:]),
            "random_notes": random_notes(windows, seed)}
    sets.update(outputs)
    report = {
        "windows": int(len(windows)),
        "songs": len(split),
        "rows": rows,
        "interpolation": {"pairs": pairs, "steps": steps, "latent": path_scores(latent),
                          "crossfade": path_scores(fade)},
        "realism": {
            "reference": {"split": getattr(corpus, "name", None) if corpus is not None else getattr(split, "name", None),
                          "windows": int(len(reference_windows)), "typicality": rounded(reference.typicality)},
            "method": "overlap of per-voice feature distributions with the reference's (10 quantile bins and "
                      "one for undefined), geometric mean over the scored features; see nesinterp.metrics.realism",
            **{name: realism(x, reference) for name, x in sets.items()},
        },
    }
    return report, latent, owner[a_idx], owner[b_idx]


def evaluate_music(model, split, pairs: int = 64, steps: int = 8, seed: int = 0, batch: int = 256,
                   corpus=None, corpus_limit: int = CORPUS_WINDOWS, mode: str = "slerp",
                   refine: int | None = None) -> dict:
    """Score ``model`` on every window of ``split`` beside the baselines, and ``pairs`` interpolations
    between windows of different songs beside the crossfade (the module docstring has the layout).

    Realism is judged against ``corpus`` (a Split, typically the train split; at most ``corpus_limit``
    of its windows, evenly spaced) or, without one, against ``split`` itself."""
    return _score_music(model, split, pairs, steps, seed, batch, corpus, corpus_limit, mode, refine)[0]


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


def _cell(x, fmt="{:.3f}"):
    return "n/a" if x is None else fmt.format(x)


def _voice_table(rows, key: str, title: str, cost: bool = False) -> list[str]:
    head = "| " + title + " |" + (" numbers per window |" if cost else "") + " P1 | P2 | TR | NO | mean |"
    lines = [head, "|---|" + ("---:|" if cost else "") + "---:|" * 5]
    for row in rows:
        cells = [_cell(row["voices"][v][key]) for v in (*VOICES, "mean")]
        label = f"**{row['name']}**" if row["kind"] == "model" else row["name"].replace("_", " ")
        lines.append(f"| {label} |" + (f" {row['cost_numbers']} |" if cost else "") + " " + " | ".join(cells) + " |")
    return lines + [""]


def _summary_markdown(report: dict) -> str:
    interp, real = report["interpolation"], report["realism"]
    lat, fade = interp["latent"], interp["crossfade"]
    model, args = report["model"], report["arguments"]
    rows = report["rows"]
    ref = real["reference"]
    lines = [
        f"# Music evaluation: {model.get('name') or model.get('source')}",
        "",
        f"Model `{model.get('source')}` (step {model.get('step')}, latent {model.get('latent_dim')}, codes refined "
        f"by {args.get('refine_steps', 0)} steps), split `{args['split']}` of `{args['dataset']}`: {report['songs']} songs, {report['windows']} windows. "
        "Reconstructions are scored against the real windows (volumes included, so re-attacks count), beside "
        "baselines computed by the same code on the same windows; numbers per window: the model's latent "
        "size, a baseline's kept notes.",
        "",
        *_voice_table(rows, "onset_f1_tol1", "onset F1 (+-1 frame)", cost=True),
        *_voice_table(rows, "pitch_accuracy_sounding", "pitch accuracy on sounding frames"),
        *_voice_table(rows, "onset_ratio", "onsets predicted / true (1 = right count)"),
        *_voice_table(rows, "onset_f1", "onset F1 (exact frame)"),
        *_voice_table(rows, "loudness_ratio", "loudness: mean volume while sounding, predicted / true (1 = as loud)"),
        *_voice_table(rows, "volume_error", "volume error: mean abs. difference (of 15) where the note is right"),
        *_voice_table(rows, "timbre_accuracy", "duty cycle (noise: mode) right where the note is right"),
        *_voice_table(rows, "note_accuracy", "extra: per-frame note accuracy (rests count)"),
        f"Realism: overlap of per-voice feature distributions with {ref['windows']} `{ref['split']}` windows "
        "(1 = indistinguishable; geometric mean over onset rate, sounding share, pitch range, note length, "
        "re-attack rate, volume change and pitch-class entropy).",
        "",
        "| set | realism | P1 | P2 | TR | NO |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in ("real_heldout", "reconstructions", "latent_mid_path", "crossfade_mid_path",
                 *[r["name"] for r in rows if r["kind"] == "baseline"], "random_notes"):
        entry = real[name]
        lines.append(f"| {name.replace('_', ' ')} | {_cell(entry['score'])} | "
                     + " | ".join(_cell(entry["voices"][v]) for v in VOICES) + " |")
    lines += [
        "",
        f"Interpolation: {interp['pairs']} pairs of windows from different songs, {interp['steps']} steps each "
        f"(endpoints included, {args.get('interpolation_mode', 'slerp')}); realism of the inner steps.",
        "",
        "| inner steps | latent | crossfade |",
        "|---|---:|---:|",
        f"| realism (higher is better) | {_cell(lat['realism'])} | {_cell(fade['realism'])} |",
        f"| monotonicity violations per path (lower is better) | {_cell(lat['monotonicity_violations'], '{:.2f}')} "
        f"| {_cell(fade['monotonicity_violations'], '{:.2f}')} |",
        f"| step smoothness (0 = even steps, about 1 = abrupt) | {_cell(lat['step_smoothness'])} "
        f"| {_cell(fade['step_smoothness'])} |",
        f"| pitch-class morph cosine (1 = follows the mixture) | {_cell(lat['pitch_class_morph'])} "
        f"| {_cell(fade['pitch_class_morph'])} |",
        "",
    ]
    return "\n".join(lines)


def write_music_report(model, dataset_dir, out_dir, split: str = "valid", pairs: int = 64, steps: int = 8,
                       seed: int = 0, force: bool = False, mode: str = "slerp", refine: int | None = None) -> dict:
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
                                                  mode, refine)
    report = {
        "tool": "nesinterp eval",
        "model": model.describe(),
        "arguments": {"dataset": str(dataset_dir), "split": split, "pairs": pairs, "steps": steps, "seed": seed,
                      "interpolation_mode": mode, "corpus_split": corpus.name if corpus is not None else None,
                      "refine_steps": model.refine_steps if refine is None else refine},
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
