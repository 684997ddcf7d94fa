"""The blend as a listener gets it: ``index.html`` in a blend folder, a view of its blend.json with an
audio player, a piano roll, a spectrogram and the scores of A, B and every step, the morph on top.

One self-contained file: inline CSS and SVG, no script, no font or file from the network; everything
it shows is a relative link into the folder (the WAVs, ``pictures/<track>-roll.png`` and
``-spectrogram.png``), so it opens from ``file://`` and moves with the folder. Every string from the
record is escaped.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from urllib.parse import quote

import numpy as np

from .pictures import (
    LANE_HEIGHTS, SEPARATOR, SPECTROGRAM_HZ, piano_roll_strip, spectrogram_strip, strip_width, write_png,
)
from .score import FRAME_RATE, Score

PICTURES = "pictures"
VOICES = ("P1", "P2", "TR", "NO")
EAGER_AUDIO = 64  # up to this many tracks the players load their length at once; above, on play
WIDE_STRIP = 512  # pixels: a track whose strips are wider takes a whole row of cards


def roll_picture(name: str) -> str:
    return f"{PICTURES}/{name}-roll.png"


def spectrogram_picture(name: str) -> str:
    return f"{PICTURES}/{name}-spectrogram.png"


def write_pictures(folder: Path, name: str, score: Score, samples: np.ndarray | None, sample_rate: int,
                   ranges: list[tuple[int, int]]) -> list[Path]:
    """The piano-roll strip of ``score`` and, given its rendered ``samples``, its spectrogram strip, as
    PNGs under ``folder/pictures``; ``ranges`` (``pictures.pitch_ranges``) shared by all tracks."""
    (folder / PICTURES).mkdir(exist_ok=True)
    written = [write_png(folder / roll_picture(name), piano_roll_strip(score, ranges))]
    if samples is not None:
        written.append(write_png(folder / spectrogram_picture(name),
                                 spectrogram_strip(samples, sample_rate, strip_width(score.frames))))
    return written


# --- the page ---------------------------------------------------------------------------------------

def page_html(record: dict) -> str:
    files = set(record.get("files", []))
    tracks = record.get("tracks", [])
    metrics = record.get("metrics", {})
    inputs = record.get("inputs", {})
    steps = [t for t in tracks if t.get("role") == "step"]
    title = " \u2192 ".join(str(i.get("name", k.upper())) for k, i in inputs.items()) or "A \u2192 B"
    eager = len(tracks) <= EAGER_AUDIO
    scores = metrics.get("steps", [])
    real = metrics.get("realism_reference", {}).get("real_windows_typicality")
    cards_in = [_card(t, files, eager, metrics.get("inputs", {}).get(t.get("input")), None, real)
                for t in tracks if t.get("role") == "input"]
    cards_steps = [_card({**t, "about": _kept(t, len(steps), metrics)}, files, eager,
                         scores[t["step"]] if t["step"] < len(scores) else None,
                         _step_note(t, len(steps), metrics), real)
                   for t in steps]
    parts = [
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<title>{escape(title)} \u00b7 nesinterp blend</title>\n<style>{CSS}</style></head>\n<body>",
        f"<header><h1>{escape(title)}</h1><p class=\"lede\">{escape(_summary(record, len(steps)))}</p></header>",
        _morph_section(record, files, steps, eager),
        f"<section id=\"inputs\"><h2>{_songs(inputs)}</h2><p class=\"note\"><b>As it is</b>: the part of the song "
        "that was blended. <b>As the model hears it</b>: the same notes with the volume and timbre the model "
        "decodes (it does not model them), which is what the steps should be compared with.</p>",
        f"<div class=\"cards\">{''.join(cards_in)}</div></section>",
        f"<section id=\"steps\"><h2>The {len(steps)} steps</h2><p class=\"note\">{_walk(record, len(steps))} "
        f"d<sub>A</sub>, d<sub>B</sub>: share of (frame, voice) cells whose note differs from the first and "
        f"the last step. Realism: how typical the step is of the model's training music (real windows "
        f"score {_num(metrics.get('realism_reference', {}).get('real_windows_typicality'))}).</p>",
        f"<div class=\"cards\">{''.join(cards_steps)}</div></section>",
        "<footer>Made by <code>nesinterp blend</code>. Every number on this page is in "
        f"{_link('blend.json', 'blend.json', files)}.</footer>\n</body></html>\n",
    ]
    return "\n".join(parts)


def _songs(inputs: dict) -> str:
    labels = [k.upper() for k in inputs] or ["A", "B"]
    return " and ".join(labels) if len(labels) == 2 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _walk(record: dict, steps: int) -> str:
    """What the steps are, in a sentence (escaped)."""
    mode = escape(str(record.get("options", {}).get("mode", "")))
    labels = [k.upper() for k in record.get("inputs", {})]
    if len(labels) <= 2:
        return (f"Step 0 decodes A's code and step {steps - 1} B's; between them the codes move from A's "
                f"to B's ({mode}).")
    per_leg = record.get("options", {}).get("steps", 2) - 1
    songs = ", ".join(f"{x} step {i * per_leg}" for i, x in enumerate(labels))
    return f"A medley: the steps decode the songs' codes ({songs}) and move from each to the next ({mode})."


def _summary(record: dict, steps: int) -> str:
    inputs, options, model = record.get("inputs", {}), record.get("options", {}), record.get("model", {})
    a, b = inputs.get("a", {}), inputs.get("b", {})
    seconds = a.get("frames", 0) / FRAME_RATE
    if options.get("whole"):
        what = f"the whole songs ({seconds:.1f} s, the shorter repeated)"
    else:
        what = (f"a {seconds:.1f} s window of A (from {a.get('start_s', 0):g} s) "
                f"and of B (from {b.get('start_s', 0):g} s)")
    decoding = ("most likely notes" if not options.get("temperature")
                else f"notes sampled at temperature {options.get('temperature'):g}, seed {options.get('seed')}")
    if len(inputs) > 2:
        what = f"{len(inputs)} songs in turn, {options.get('steps')} steps a leg ({seconds:.1f} s each)"
    return (f"{steps} steps between {what}, through the model {model.get('name') or model.get('source')} "
            f"(latent size {model.get('latent_dim')}), {options.get('mode')}, {decoding}.")


def _morph_section(record: dict, files: set, steps: list, eager: bool) -> str:
    metrics = record.get("metrics", {})
    morph = next((t for t in record.get("tracks", []) if t.get("role") == "morph"), None)
    out = ["<section id=\"morph\"><h2>The morph</h2>"]
    if morph:
        out.append(f"<p class=\"note\">Every step in a row, half a second apart "
                   f"({morph.get('seconds', 0):.1f} s).</p>{_audio(morph['name'], files, eager, 'the morph')}")
    out.append("<div class=\"overview\">")
    out.append(f"<figure>{_curves(metrics, steps)}<figcaption>How far each step is from A's reconstruction "
               "(d<sub>A</sub>) and B's (d<sub>B</sub>), and its realism. Click a point for its step."
               "</figcaption></figure>")
    out.append(f"<div>{_path_scores(metrics)}{_warnings(record, steps)}</div></div>")
    if "piano-rolls.png" in files:
        out.append("<figure class=\"wide\"><a href=\"piano-rolls.png\"><img src=\"piano-rolls.png\" "
                   "alt=\"piano rolls of A, the steps and B\"></a><figcaption>A, the steps and B side by side, "
                   "four voices (piano-rolls.png).</figcaption></figure>")
    out.append("</section>")
    return "".join(out)


def _path_scores(metrics: dict, ends: str = "AB") -> str:
    if metrics.get("legs"):  # a medley: each leg is a blend of its own
        ends = [chr(65 + i) + chr(66 + i) for i in range(len(metrics["legs"]))]
        return "".join(f"<h3>{e[0]} \u2192 {e[1]}</h3>{_path_scores(leg, e)}" for e, leg in zip(ends, metrics["legs"]))
    path = metrics.get("path") or {}
    even = 1 / max(1, len(metrics.get("steps", [])) - 1)
    rows = [("realism of the inner steps", _num(metrics.get("realism")),
             f"real windows: {_num(metrics.get('realism_reference', {}).get('real_windows_typicality'))}"),
            ("linearity error", _num(path.get("linearity_error")),
             "how far each step sits from its share of the way, as heard; 0 = steady"),
            ("backward movement", _num(path.get("backward_movement")), "how far the path turns back; 0 = never"),
            ("first / last step's share", f"{_num(path.get('first_step_share'))} / {_num(path.get('last_step_share'))}",
             f"of the way from A to B; even steps: {even:.3f}"),
            ("monotonicity violations", _num(metrics.get("monotonicity_violations")), "cells; 0 for a steady morph"),
            ("step smoothness", _num(metrics.get("step_smoothness")),
             metrics.get("step_smoothness_reason") or "0 = even steps, near 1 = one abrupt switch"),
            ("pitch-class morph", _num(metrics.get("pitch_class_morph")), "1 = pitch classes mix as A and B do")]
    for side, label in zip(("a", "b"), ends):
        mean = metrics.get(f"reconstruction_{side}", {}).get("mean", {})
        rows.append((f"{label} kept by its reconstruction",
                     f"{_num(mean.get('onset_f1_tol1'))} / {_num(mean.get('pitch_accuracy_sounding'))}",
                     "onset F1 (\u00b11 frame) / pitch on sounding frames, mean of the voices"))
    body = "".join(f"<tr><th>{escape(a)}</th><td>{escape(b)}</td><td class=\"note\">{escape(c)}</td></tr>"
                   for a, b, c in rows)
    return f"<table class=\"path\">{body}</table>"


def _warnings(record: dict, steps: list) -> str:
    """Each distinct warning once, with the steps it concerns, instead of one line per step."""
    scores = record.get("metrics", {}).get("steps", [])
    by_text: dict[str, list[int]] = {}
    step_lines = set()
    for t in steps:
        for w in (scores[t["step"]].get("warnings", []) if t["step"] < len(scores) else []):
            by_text.setdefault(w, []).append(t["step"])
            step_lines.add(f"{t['name']}: {w}")
    general = [w for w in record.get("warnings", []) if w not in step_lines]
    items = [f"<li>{escape(w)}</li>" for w in general]
    items += [f"<li>{escape(w)}: {_step_list(ks, len(steps))}</li>" for w, ks in by_text.items()]
    if not items:
        return ""
    return f"<div class=\"warnings\"><h3>Warnings</h3><ul>{''.join(items)}</ul></div>"


def _step_list(ks: list[int], total: int) -> str:
    runs, start = [], ks[0]
    for prev, k in zip(ks, ks[1:] + [None]):
        if k != prev + 1:
            runs.append(f"<a href=\"#step-{start}\">{start}</a>" if start == prev else
                        f"<a href=\"#step-{start}\">{start}</a>\u2013<a href=\"#step-{prev}\">{prev}</a>")
            start = k
    return f"step{'s' if len(ks) > 1 else ''} {', '.join(runs)} ({len(ks)} of {total})"


def _step_note(track: dict, steps: int, metrics: dict) -> str:
    k = track["step"]
    d_a, d_b = metrics.get("endpoint_distance_a", []), metrics.get("endpoint_distance_b", [])
    leg = track.get("leg")
    parts = ([f"{escape(leg[0].upper())} \u2192 {escape(leg[-1].upper())}, t = {track.get('leg_t', 0):.2f}"] if leg
             else [f"t = {track.get('t', k / max(1, steps - 1)):.2f}"])
    if k < len(d_a) and k < len(d_b):
        parts.append(f"d<sub>A</sub> {_num(d_a[k])} \u00b7 d<sub>B</sub> {_num(d_b[k])}")
    return " \u00b7 ".join(parts)


def _kept(track: dict, steps: int, metrics: dict) -> str:
    """For the first and last step: how well they keep A's and B's onsets and pitches."""
    for end, side in ((0, "a"), (steps - 1, "b")):
        mean = metrics.get(f"reconstruction_{side}", {}).get("mean", {})
        if track.get("step") == end and mean:
            return (f"Reconstructs {side.upper()}: onset F1 {_num(mean.get('onset_f1_tol1'))}, "
                    f"pitch on sounding frames {_num(mean.get('pitch_accuracy_sounding'))}.")
    return ""


def _card(track: dict, files: set, eager: bool, scores: dict | None, note: str | None, real=None) -> str:
    name, title = track["name"], track.get("title", track["name"])
    anchor = f"step-{track['step']}" if track.get("role") == "step" else name
    # a long track (--whole) gets a row of its own, so its strips keep a readable height
    wide = " wide" if strip_width(round(track.get("seconds", 0) * FRAME_RATE)) > WIDE_STRIP else ""
    out = [f"<article class=\"card{wide}\" id=\"{escape(anchor)}\" style=\"border-top-color:{_colour(track)}\">"
           f"<h3>{escape(title)}</h3>"]
    if note:
        out.append(f"<p class=\"sub\">{note}</p>")  # built from numbers by _step_note
    out.append(_audio(name, files, eager, title))
    roll, spectrogram = roll_picture(name), spectrogram_picture(name)
    if roll in files:
        lanes = "".join(f"<span style=\"flex:{h + (SEPARATOR if i < 3 else 0)}\">{v}</span>"
                        for i, (v, h) in enumerate(zip(VOICES, LANE_HEIGHTS)))
        picture = _img(roll, f"piano roll of {title}")
        out.append(f"<div class=\"strip\"><div class=\"axis\">{lanes}</div>{picture}</div>")
    if spectrogram in files:
        lo, hi = SPECTROGRAM_HZ
        axis = "".join(f"<span style=\"bottom:{100 * np.log(f / lo) / np.log(hi / lo):.0f}%\">{label}</span>"
                       for f, label in ((100, "100"), (1000, "1k"), (10000, "10k")))
        out.append(f"<div class=\"strip\"><div class=\"axis hz\">{axis}</div>"
                   f"{_img(spectrogram, f'spectrogram of {title}')}</div>")
    if track.get("about"):
        out.append(f"<p class=\"note\">{escape(track['about'])}</p>")
    if scores:
        out.append(_voice_table(scores))
        if scores.get("realism") is not None:
            out.append(f"<p class=\"realism\">realism <b>{_num(scores['realism'])}</b> "
                       f"<span class=\"note\">(real windows {_num(real)})</span></p>")
        warnings = scores.get("warnings", [])
        if warnings:
            out.append("<ul class=\"warn\">" + "".join(f"<li>{escape(w)}</li>" for w in warnings) + "</ul>")
    links = [x for x in (_link(f"{name}.mid", "MIDI", files), _link(f"{name}.wav", "WAV", files)) if x]
    out.append("<p class=\"files\">" + " \u00b7 ".join(links) + "</p></article>")
    return "".join(out)


PALETTE = np.array([[217, 105, 43], [31, 143, 163], [122, 82, 181], [84, 150, 60], [196, 64, 110], [150, 120, 40]])


def _colour(track: dict) -> str:
    """The card's top edge: its song's colour, or for a step the mix of its leg's two songs' at its place."""
    if track.get("colour"):
        return escape(track["colour"])
    if track.get("role") == "step":
        leg = track.get("leg", "a-b")
        first, t = ord(leg[0]) - 97, track.get("leg_t", track.get("t", 0.0))
        mixed = (1 - t) * PALETTE[first % len(PALETTE)] + t * PALETTE[(first + 1) % len(PALETTE)]
    else:
        mixed = PALETTE[(ord(track.get("name", "a")[0]) - 97) % len(PALETTE)]
    r, g, b = np.asarray(mixed).round().astype(int)
    return f"rgb({r},{g},{b})"


def _voice_table(scores: dict) -> str:
    onsets, share, realism = (scores.get("onsets_per_window", {}), scores.get("sounding_share", {}),
                              scores.get("realism_voices", {}))
    rows = [("onsets", [_count(onsets.get(v)) for v in VOICES]),
            ("sounding", [_percent(share.get(v)) for v in VOICES])]
    if realism:
        rows.append(("realism", [_num(realism.get(v), 2) for v in VOICES]))
    head = "<tr><th></th>" + "".join(f"<th>{v}</th>" for v in VOICES) + "</tr>"
    body = "".join(f"<tr><th>{label}</th>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"
                   for label, cells in rows)
    return f"<table class=\"voices\">{head}{body}</table>"


def _curves(metrics: dict, steps: list) -> str:
    """An inline SVG of d_A, d_B and realism over the steps; each step's points link to its card."""
    d_a, d_b = metrics.get("endpoint_distance_a", []), metrics.get("endpoint_distance_b", [])
    realism = [s.get("realism") for s in metrics.get("steps", [])]
    n = max(len(d_a), len(realism), 2)
    w, h, left, right, top, bottom = 560, 230, 48, 12, 10, 50

    def x(k):
        return left + (w - left - right) * k / (n - 1)

    def y(v):
        return top + (h - top - bottom) * (1 - v)

    out = [f"<svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"distance of each step to A and B\">"]
    for v in (0, 0.5, 1):
        out.append(f"<line x1=\"{left}\" x2=\"{w - right}\" y1=\"{y(v):.1f}\" y2=\"{y(v):.1f}\" class=\"grid\"/>"
                   f"<text x=\"{left - 6}\" y=\"{y(v) + 4:.1f}\" text-anchor=\"end\">{v:g}</text>")
    every = max(1, int(np.ceil(n / 16)))
    for k in range(0, n, every):
        out.append(f"<text x=\"{x(k):.1f}\" y=\"{y(0) + 15:.1f}\" text-anchor=\"middle\">{k}</text>")
    out.append(f"<text x=\"{left - 12}\" y=\"{y(0) + 15:.1f}\" text-anchor=\"end\">step</text>")
    for values, cls, label in ((d_a, "da", "d_A"), (d_b, "db", "d_B"), (realism, "re", "realism")):
        points = [(k, v) for k, v in enumerate(values) if v is not None]
        if not points:
            continue
        out.append(f"<polyline class=\"{cls}\" points=\"{' '.join(f'{x(k):.1f},{y(v):.1f}' for k, v in points)}\"/>")
        for k, v in points if n <= 100 else []:
            out.append(f"<a href=\"#step-{k}\"><circle class=\"{cls}\" cx=\"{x(k):.1f}\" cy=\"{y(v):.1f}\" r=\"4\">"
                       f"<title>step {k}: {label} {v:.3f}</title></circle></a>")
    legend = [(c, t) for c, t, v in (("da", "d_A (to step 0)", d_a), ("db", "d_B (to the last step)", d_b),
                                     ("re", "realism", realism)) if any(x is not None for x in v)]
    for i, (cls, label) in enumerate(legend):
        lx, ly = left + i * 160, h - 8
        out.append(f"<line class=\"{cls}\" x1=\"{lx}\" x2=\"{lx + 18}\" y1=\"{ly - 4}\" y2=\"{ly - 4}\"/>"
                   f"<text x=\"{lx + 22}\" y=\"{ly}\">{label}</text>")
    out.append("</svg>")
    return "".join(out)


def _audio(name: str, files: set, eager: bool, title: str) -> str:
    if f"{name}.wav" not in files:
        return "<p class=\"note\">No audio (made with --no-wav).</p>"
    return (f"<audio controls preload=\"{'metadata' if eager else 'none'}\" src=\"{quote(name)}.wav\" "
            f"title=\"{escape(title)}\"></audio>")


def _img(path: str, alt: str) -> str:
    return f"<img src=\"{quote(path)}\" alt=\"{escape(alt)}\" loading=\"lazy\">"


def _link(path: str, label: str, files: set) -> str:
    return f"<a href=\"{quote(path)}\">{escape(label)}</a>" if path in files else ""


def _num(v, digits: int = 3) -> str:
    if v is None:
        return "\u2013"
    if isinstance(v, int):
        return str(v)
    return f"{v:.{digits}f}"


def _count(v) -> str:
    return "\u2013" if v is None else f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def _percent(v) -> str:
    return "\u2013" if v is None else f"{100 * v:.0f} %"


CSS = """
:root{--ink:#1d1f24;--muted:#5d6470;--line:#dcdfe4;--paper:#f5f4f0;--card:#fff;--a:#d9692b;--b:#1f8fa3;--warn:#9a5b00}
*{box-sizing:border-box}
body{margin:0;padding:20px 28px 40px;background:var(--paper);color:var(--ink);
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 6px}h3{font-size:15px;margin:0 0 2px}
.lede{color:var(--muted);margin:0;max-width:70em}
.note{color:var(--muted);font-size:13px;max-width:70em;margin:2px 0 10px}
audio{width:100%;height:36px;margin:4px 0}
.overview{display:grid;grid-template-columns:minmax(300px,560px) minmax(300px,1fr);gap:20px;align-items:start;
 margin-top:8px}
figure.wide{margin-top:14px}
figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px}
figure img{width:100%;display:block}figcaption{color:var(--muted);font-size:12px;margin-top:4px}
svg{width:100%;height:auto;display:block;font-size:11px;fill:var(--muted)}
svg .grid{stroke:var(--line)}svg polyline{fill:none;stroke-width:2}svg line.da,svg line.db,svg line.re{stroke-width:2}
svg .da{stroke:var(--a)}svg circle.da{fill:var(--a)}svg .db{stroke:var(--b)}svg circle.db{fill:var(--b)}
svg .re{stroke:#8a8f99;stroke-dasharray:4 3}svg circle.re{fill:#8a8f99;stroke:none}
table.path{border-collapse:collapse;margin:0 0 12px;font-size:13px}
table.path th{text-align:left;font-weight:500;padding:3px 14px 3px 0;white-space:nowrap}
table.path td{padding:3px 14px 3px 0;font-variant-numeric:tabular-nums;white-space:nowrap}
table.path td.note{white-space:normal}
.warnings{background:#fff6e5;border:1px solid #f0d29a;border-radius:8px;padding:8px 14px;max-width:70em}
.warnings h3{color:var(--warn)}.warnings ul{margin:4px 0;padding-left:18px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:14px}
.card{background:var(--card);border:1px solid var(--line);border-top:4px solid var(--line);border-radius:8px;
 padding:10px 12px;min-width:0}
.card.wide{grid-column:1/-1}.card.wide table.voices{max-width:460px}
.card .sub{color:var(--muted);font-size:12px;margin:0 0 2px}
.strip{display:grid;grid-template-columns:30px 1fr;margin-top:4px}.strip+.strip{margin-top:9px}
.strip img{width:100%;height:auto;display:block;image-rendering:pixelated;border-radius:3px;background:#15161b}
.axis{display:flex;flex-direction:column;font-size:10px;color:var(--muted);padding-right:4px;text-align:right}
.axis span{display:flex;align-items:center;justify-content:flex-end;min-height:0}
.axis.hz{position:relative}.axis.hz span{position:absolute;right:4px;transform:translateY(50%);line-height:1}
table.voices{border-collapse:collapse;width:100%;margin-top:8px;font-size:12px;font-variant-numeric:tabular-nums}
table.voices th,table.voices td{padding:1px 4px;text-align:right;border-bottom:1px solid #eef0f2}
table.voices th:first-child{text-align:left;font-weight:500;color:var(--muted)}
.realism{margin:4px 0 0;font-size:12px}
ul.warn{margin:6px 0 0;padding-left:16px;color:var(--warn);font-size:12px}
.files{margin:6px 0 0;font-size:12px}a{color:#2f5fb3}
footer{margin-top:30px;color:var(--muted);font-size:12px}
"""
