"""The human-readable files of a music report (``nesinterp eval``): summary.md, the tables of
report.json with every figure's 95 % bootstrap interval over songs, and the two PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

VOICES = ("P1", "P2", "TR", "NO")
PLOTTED_INTERPOLATIONS = 3


def plot_endpoint_curves(report: dict, path: Path) -> None:
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


def plot_interpolations(latent: np.ndarray, song_a, song_b, split, path: Path) -> None:
    """Piano rolls of the first few latent paths, one row of steps per path, stacked (the project's one
    piano-roll drawer, ``pictures.overview_image``)."""
    from ..pictures import BACKGROUND, overview_image, write_png
    from ..score import Score

    steps = latent.shape[0]
    blocks = []
    for j in range(min(PLOTTED_INTERPOLATIONS, latent.shape[1])):
        names = (split.songs[song_a[j]].name[:24], split.songs[song_b[j]].name[:24])
        titles = [f"A~ {names[0]}" if k == 0 else f"B~ {names[1]}" if k == steps - 1 else f"t={k / (steps - 1):.2f}"
                  for k in range(steps)]
        scores = [Score(np.ascontiguousarray(latent[k, j]), f"pair-{j}-step-{k}", "nesinterp eval")
                  for k in range(steps)]
        blocks.append(overview_image(scores, titles))
    width = max(b.shape[1] for b in blocks)
    rows = [np.concatenate([b, np.broadcast_to(BACKGROUND, (b.shape[0], width - b.shape[1], 3))], axis=1)
            for b in blocks]
    write_png(path, np.concatenate(rows, axis=0))




def cell(x, ci=None, fmt: str = "{:.3f}") -> str:
    """A figure and, when known, its interval: ``0.630 [0.612, 0.648]``; n/a when undefined."""
    if x is None:
        return "n/a"
    text = fmt.format(x)
    if ci and ci[0] is not None and ci[1] is not None:
        text += " [" + fmt.format(ci[0]) + ", " + fmt.format(ci[1]) + "]"
    return text


def _label(row: dict) -> str:
    return f"**{row['name']}**" if row["kind"] == "model" else row["name"].replace("_", " ")


def voice_table(rows, key: str, title: str, cost: bool = False) -> list[str]:
    """One score per voice and its mean, a row per model and baseline."""
    head = "| " + title + " |" + (" numbers | bits per window |" if cost else "") + " P1 | P2 | TR | NO | mean |"
    lines = [head, "|---|" + ("---:|---:|" if cost else "") + "---:|" * 5]
    for row in rows:
        cells = [cell(row["voices"][v][key], row["voices"][v].get(f"{key}_ci95")) for v in (*VOICES, "mean")]
        costs = f" {row['cost_numbers']} | {row['cost_bits']:.0f} |" if cost else ""
        lines.append(f"| {_label(row)} |{costs} " + " | ".join(cells) + " |")
    return lines + [""]


PATH_ROWS = (
    ("linearity_error", "linearity error: mean |d_A / (d_A + d_B) - t| (0 = steady)"),
    ("backward_movement", "backward movement / d(A, B) (0 = never turns back)"),
    ("first_step_share", "first step's share of the way (even: 1 / (steps - 1))"),
    ("last_step_share", "last step's share of the way"),
    ("worst_step_typicality", "worst inner step's typicality (real windows: about the reference's)"),
    ("realism", "realism of the inner steps (higher is better)"),
    ("pitch_class_morph", "pitch-class morph cosine (1 = follows the mixture)"),
    ("monotonicity_violations", "extra: monotonicity violations per path (cells)"),
    ("step_smoothness", "extra: step smoothness (cells; 0 = even, about 1 = abrupt)"),
)


def summary_markdown(report: dict) -> str:
    interp, real = report["interpolation"], report["realism"]
    model, args = report["model"], report["arguments"]
    rows, ref = report["rows"], real["reference"]
    methods = ("latent", "crossfade", "switch")
    lines = [
        f"# Music evaluation: {model.get('name') or model.get('source')}",
        "",
        f"Model `{model.get('source')}` (step {model.get('step')}, latent {model.get('latent_dim')}, codes refined "
        f"by {args.get('refine_steps', 0)} steps), split `{args['split']}` of `{args['dataset']}`: "
        f"{report['windows']} of its {report.get('windows_in_split', report['windows'])} windows (evenly spread) "
        f"from {report['songs']} songs. Reconstructions are scored against the real windows (volumes included, "
        "so re-attacks count), beside baselines computed by the same code on the same windows. In brackets: "
        f"95 % bootstrap intervals over songs ({args.get('bootstrap_replicates')} replicates). Cost: numbers "
        "per window (the model's code, a baseline's kept notes) and bits per window (the code at the precision "
        "it is used; a baseline's kept states at the train split's entropy per voice state).",
        "",
        *voice_table(rows, "onset_f1_tol1", "onset F1 (+-1 frame)", cost=True),
        *voice_table(rows, "pitch_onset_f1_tol1", "pitch-onset F1 (+-1; a new pitch or a start after silence)"),
        *voice_table(rows, "pitch_onset_ratio", "pitch onsets predicted / true"),
        *voice_table(rows, "reattack_f1_tol1", "re-attack F1 (+-1; the same pitch struck again)"),
        *voice_table(rows, "reattack_ratio", "re-attacks predicted / true"),
        *voice_table(rows, "pitch_accuracy_sounding", "pitch accuracy on sounding frames"),
        *voice_table(rows, "onset_ratio", "all onsets predicted / true (1 = right count)"),
        *voice_table(rows, "onset_f1", "onset F1 (exact frame)"),
        *voice_table(rows, "loudness_ratio", "loudness: mean volume while sounding, predicted / true"),
        *voice_table(rows, "volume_error", "volume error: mean abs. difference (of 15) where the note is right"),
        *voice_table(rows, "timbre_accuracy", "duty cycle (noise: mode) right where the note is right"),
        *voice_table(rows, "note_accuracy", "extra: per-frame note accuracy (rests count)"),
        f"Realism: overlap of per-voice feature distributions with {ref['windows']} `{ref['split']}` windows "
        "(1 = indistinguishable; geometric mean over onset rate, sounding share, pitch range, note length, "
        "re-attack rate, volume change and pitch-class entropy).",
        "",
        "| set | realism | P1 | P2 | TR | NO |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, entry in real.items():
        if not isinstance(entry, dict) or "score" not in entry:
            continue
        lines.append(f"| {name.replace('_', ' ')} | {cell(entry['score'], entry.get('score_ci95'))} | "
                     + " | ".join(cell(entry["voices"][v], (entry.get("voices_ci95") or {}).get(v)) for v in VOICES)
                     + " |")
    lines += [
        "",
        f"Interpolation: {interp['pairs']} pairs of windows from different songs, {interp['steps']} steps each "
        f"(endpoints included, {args.get('interpolation_mode', 'slerp')}), beside the data-space crossfade and an "
        "abrupt switch (A until t = 0.5, then B). Path scores use the listener distance (note events, "
        "sounding pitch, then volume and timbre; docs/scores.md, section 2); intervals over the songs of A.",
        "",
        "| paths | latent | crossfade | switch |",
        "|---|---:|---:|---:|",
    ]
    for key, title in PATH_ROWS:
        fmt = "{:.2f}" if key == "monotonicity_violations" else "{:.3f}"
        lines.append(f"| {title} | " + " | ".join(cell(interp[m].get(key), interp[m].get(f"{key}_ci95"), fmt)
                                                 for m in methods) + " |")
    return "\n".join(lines + [""])
