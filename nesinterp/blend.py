"""`nesinterp blend A B --steps K -o OUT`: a morph from song A to song B through a trained model's latent
space, written as NES-MDB MIDI, WAV, piano rolls and a JSON record.

What is blended: by default one model window (2.7 s for the bundled model) of each song: the first
window, searched from the start in one-second hops, in which at least half of the frames sound
(else the fullest window); ``start`` picks it by time instead. ``whole`` blends the songs window by
window: both are cut into consecutive windows, the shorter song repeated from its start until it is
as long as the longer one, and step k joins the k-th interpolant of every window pair.

All files are first written to a temporary folder inside OUT and moved into place only when every one
of them is complete; existing files are replaced only with ``force``, which also removes the files an
earlier blend listed in its blend.json and this one does not write. Steps are written one at a time
(morph.wav is their WAVs in a row), so memory does not grow with ``steps``. ``index.html`` (``page``)
shows it all in a browser.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

import numpy as np

from .errors import NesinterpError
from .jsonio import dumps
from .score import FRAME_RATE, Field, Score

SEARCH_HOP = FRAME_RATE  # frames between candidate windows when looking for one with enough notes
MIN_SOUNDING = 0.5  # share of frames with any voice sounding that makes a window "enough"
GAP_SECONDS = 0.5  # silence between steps in morph.mid/morph.wav
OVERVIEW_STEPS = 12  # piano-rolls.png shows at most this many steps (evenly spread, both ends included)


class BlendError(NesinterpError):
    """A blend that cannot be made; the message says why in one line."""


@dataclass(frozen=True)
class BlendOptions:
    steps: int = 8
    mode: str = "slerp"
    temperature: float = 0.0
    seed: int = 0
    start_a: float | None = None
    start_b: float | None = None
    whole: bool = False
    force: bool = False
    wav: bool = True
    plot: bool = True
    html: bool = True
    musicxml: bool = False  # also each step as MusicXML, for notation programs
    sample_rate: int = 44100
    refine: int | None = None  # code refinement steps (nesinterp.refine); None: the model's own


@dataclass
class BlendResult:
    out: Path
    files: list[Path]
    record: dict
    removed: list[Path] = field(default_factory=list)  # an earlier blend's files that this one replaced


@dataclass(frozen=True)
class Track:
    """One thing to hear in the blend folder: an input window, a step; written as <name>.mid/.wav."""

    name: str
    title: str
    role: str  # "input" or "step"
    score: Score
    step: int | None = None
    t: float | None = None  # where the step is on the way from A (0) to B (1)
    input: str | None = None  # "a" or "b" for the original windows, whose scores the page shows
    about: str = ""

    def describe(self) -> dict:
        out = {"name": self.name, "title": self.title, "role": self.role, "seconds": round(self.score.duration, 3)}
        extra = {"step": self.step, "t": self.t, "input": self.input, "about": self.about}
        return {**out, **{k: v for k, v in extra.items() if v not in (None, "")}}


def step_name(k: int, steps: int) -> str:
    """``step-03-of-08``: zero-padded to the width of the step count (at least two digits), so the
    names sort in step order (``step-007-of-500``)."""
    width = max(2, len(str(steps)))
    return f"step-{k:0{width}d}-of-{steps:0{width}d}"


def choose_window(score: Score, window: int, start: float | None, label: str) -> tuple[np.ndarray, int]:
    """(window array, first frame): at ``start`` seconds, else the first window with enough notes."""
    array = np.asarray(score.array)
    if start is not None:
        first = int(round(start * FRAME_RATE))
        if start < 0 or first >= score.frames:
            raise BlendError(f"{label}: --start {start:g} s is outside the song ({score.duration:.1f} s long)")
    else:
        candidates = range(0, max(1, score.frames - window + 1), SEARCH_HOP)
        shares = [_sounding_share(array[f : f + window]) for f in candidates]
        enough = [f for f, s in zip(candidates, shares) if s >= MIN_SOUNDING]
        first = enough[0] if enough else list(candidates)[int(np.argmax(shares))]
        # Start on the window's first note rather than on the silence before it.
        sounding = np.flatnonzero(array[first:, :, Field.NOTE].any(axis=1))
        if len(sounding):
            first = min(first + int(sounding[0]), max(0, score.frames - window))
    from .data import score_windows

    piece = score_windows(score[first : first + window], window)[0]  # silence-padded when short
    if not piece[:, :, Field.NOTE].any():
        raise BlendError(f"{label}: the window at {first / FRAME_RATE:.1f} s has no notes")
    return piece, first


def _sounding_share(array: np.ndarray) -> float:
    return float(np.mean(array[:, :, Field.NOTE].any(axis=1))) if len(array) else 0.0


def _planned_names(tracks: list[str], options: BlendOptions) -> list[str]:
    from .page import roll_picture, spectrogram_picture

    stems = tracks + ["morph"]
    names = [f"{s}.mid" for s in stems] + ([f"{s}.wav" for s in stems] if options.wav else [])
    if options.html:
        names += [roll_picture(s) for s in tracks] + ([spectrogram_picture(s) for s in tracks] if options.wav else [])
    names += (["piano-rolls.png"] if options.plot else []) + (["index.html"] if options.html else [])
    names += [f"{s}.musicxml" for s in tracks if s.startswith("step-")] if options.musicxml else []
    return names + ["blend.json"]


def _check_output(out: Path, names: list[str], force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise BlendError(f"{out}: exists and is a file; the output must be a folder")
    if out.exists() and not force:
        clash = [n for n in names if (out / n).exists()]
        if clash:
            raise BlendError(f"{out / clash[0]}: already exists ({len(clash)} of the output files do); "
                             "use --force to replace them")


def _read(path: str, label: str) -> Score:
    from data_prep.readers import ReadError, read_score

    try:
        score = read_score(path)
    except ReadError as exc:
        raise BlendError(f"{path}: {exc}") from None
    if score.is_silent:
        raise BlendError(f"{path}: no notes")
    return score


def blend_files(a_path: str, b_path: str, out: str | Path, model=None, options: BlendOptions = BlendOptions(),
                progress: Callable[[int, int], None] | None = None) -> BlendResult:
    """Read A and B, interpolate with ``model`` (a TrainedModel, a path, or None for the bundled one)
    and write the morph into ``out``. ``progress(done, total)`` is called after each track is written."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    if options.steps < 2:
        raise BlendError(f"--steps must be at least 2 (it counts both endpoints), not {options.steps}")
    if options.mode not in ("slerp", "lerp"):
        raise BlendError(f"--mode must be slerp or lerp, not {options.mode!r}")
    if options.temperature < 0:
        raise BlendError("--temperature must not be negative")
    if options.refine is not None and options.refine < 0:
        raise BlendError(f"--refine must not be negative, not {options.refine}")
    out = Path(out)
    stems = ["a-original", "a", "b-original", "b"] + [step_name(k, options.steps) for k in range(options.steps)]
    names = _planned_names(stems, options)
    _check_output(out, names, options.force)

    score_a, score_b = _read(a_path, "A"), _read(b_path, "B")
    timings["read"] = time.perf_counter() - clock

    from .checkpoint import CheckpointError
    from .trained_model import TrainedModel

    clock = time.perf_counter()
    if not isinstance(model, TrainedModel):
        try:
            model = TrainedModel.load(model)
        except CheckpointError as exc:
            raise BlendError(str(exc)) from None
    window = model.window
    if options.whole:
        from .data import paired_windows

        wa, wb = paired_windows(score_a, score_b, window)
        first_a = first_b = 0
    else:
        wa, first_a = choose_window(score_a, window, options.start_a, f"{a_path}")
        wb, first_b = choose_window(score_b, window, options.start_b, f"{b_path}")
        wa, wb = wa[None], wb[None]
    path = model.interpolate(wa, wb, options.steps, options.mode, options.temperature,
                             options.seed if options.temperature > 0 else None, joined=options.whole,
                             refine=options.refine)
    heard_a, heard_b = model.as_heard(wa), model.as_heard(wb)
    timings["model"] = time.perf_counter() - clock

    clock = time.perf_counter()
    # (steps, windows, frames, 4, 3) -> one Score per step, windows joined in time
    steps = [Score(np.ascontiguousarray(p.reshape(-1, 4, 3)), step_name(k, options.steps), "nesinterp blend")
             for k, p in enumerate(path)]
    real_a, real_b = wa.reshape(-1, 4, 3), wb.reshape(-1, 4, 3)
    tracks = _input_tracks(real_a, heard_a, score_a, first_a, str(a_path), "a", options.whole)
    tracks += _input_tracks(real_b, heard_b, score_b, first_b, str(b_path), "b", options.whole)
    tracks += [Track(s.name, f"Step {k}", "step", s, step=k, t=round(k / (len(steps) - 1), 4))
               for k, s in enumerate(steps)]
    gap = np.zeros((int(GAP_SECONDS * FRAME_RATE), 4, 3), np.uint8)
    morph = Score(np.concatenate([np.concatenate([s.array, gap]) for s in steps])[: -len(gap)], "morph",
                  "nesinterp blend")

    from .metrics import interpolation_report, step_report
    from .metrics.paths import path_report

    reference = model.realism_reference()
    record = {
        "tool": "nesinterp blend",
        "inputs": {
            "a": {"path": str(a_path), "name": score_a.name, "duration_s": round(score_a.duration, 3),
                  "start_s": round(first_a / FRAME_RATE, 3), "frames": int(len(real_a))},
            "b": {"path": str(b_path), "name": score_b.name, "duration_s": round(score_b.duration, 3),
                  "start_s": round(first_b / FRAME_RATE, 3), "frames": int(len(real_b))},
        },
        "model": model.describe(),
        "options": asdict(options),
        # --whole with a fully convolutional model: every step encoded and decoded as one sequence
        "joined": bool(options.whole and model.autoencoder.fully_convolutional),
        "refine_steps": model.refine_steps if options.refine is None else options.refine,
        # Endpoints are scored against the real input windows (with their volumes, so re-attacks count).
        "metrics": interpolation_report([s.array for s in steps], real_a, real_b, reference, window),
        "tracks": [t.describe() for t in tracks] + [{"name": "morph", "title": "The morph", "role": "morph",
                                                    "seconds": round(morph.duration, 3)}],
    }
    # The inputs scored like the steps, so a step's onsets and realism can be read beside A's and B's.
    # The path on the listener distance (docs/scores.md, section 2); its worst step from the steps' realism.
    path = record["metrics"]["path"] = path_report([s.array for s in steps])
    inner = [m.get("realism") for m in record["metrics"]["steps"][1:-1] if m.get("realism") is not None]
    path["worst_step_typicality"] = min(inner) if inner else None
    record["metrics"]["inputs"] = {"a": step_report(real_a, real_a, real_b, reference, window),
                                   "b": step_report(real_b, real_a, real_b, reference, window)}
    record["warnings"] = [f"{s.name}: {w}" for s, m in zip(steps, record["metrics"]["steps"]) for w in m["warnings"]]
    if np.array_equal(wa, wb):
        record["warnings"].insert(0, "A and B are the same window: every step should reconstruct it")
    timings["score"] = time.perf_counter() - clock

    clock = time.perf_counter()
    earlier = _earlier_files(out) if options.force else []
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".blend-tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        written, timings["page"] = _write_all(tmp, tracks, morph, options, progress)
        record["files"] = sorted(p.relative_to(tmp).as_posix() for p in written)
        record["files"] = sorted(record["files"] + (["index.html"] if options.html else [])) + ["blend.json"]
        if options.html:
            from .page import write_page

            page_clock = time.perf_counter()
            write_page(tmp, record)
            timings["page"] += time.perf_counter() - page_clock
        timings["write"] = time.perf_counter() - clock
        record["timings_s"] = {k: round(v, 4) for k, v in timings.items()}
        (tmp / "blend.json").write_text(dumps(record, indent=2))
        final = []
        for name in record["files"]:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / name, out / name)
            final.append(out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    removed = _remove_stale(out, earlier, set(record["files"]))
    return BlendResult(out, final, record, removed)


def _input_tracks(real: np.ndarray, heard: np.ndarray, score: Score, first: int, source: str, side: str,
                  whole: bool) -> list[Track]:
    label = side.upper()
    where = ("the whole song" if whole else
             f"{first / FRAME_RATE:.1f} s to {(first + len(real)) / FRAME_RATE:.1f} s of {score.duration:.1f} s")
    return [Track(f"{side}-original", f"{label} as it is", "input", Score(real, f"{side}-original", source),
                  input=side, about=f"{score.name}: {where}"),
            Track(side, f"{label} as the model hears it", "input", Score(heard.reshape(-1, 4, 3), side, source),
                  about="The same notes, with the volume and timbre the model decodes.")]


def _write_all(folder: Path, tracks: list[Track], morph: Score, options: BlendOptions,
               progress: Callable[[int, int], None] | None) -> tuple[list[Path], float]:
    """Every file but index.html and blend.json, one track at a time; (files, seconds spent on the page's
    pictures)."""
    from data_prep.nesmdb_midi import write_nesmdb_midi

    from .page import write_pictures
    from .pictures import pitch_ranges
    from .render import WavStream, render_samples, write_wav_samples

    rate = options.sample_rate
    written, page_seconds = [], 0.0
    ranges = pitch_ranges([t.score for t in tracks]) if options.html else None
    stream = WavStream(folder / "morph.wav", rate) if options.wav else None
    gap = np.zeros(int(GAP_SECONDS * FRAME_RATE) * rate // FRAME_RATE, "<i2")
    try:
        for done, track in enumerate(tracks, 1):
            path = folder / f"{track.name}.mid"
            write_nesmdb_midi(track.score, path, retrigger=True)  # any synth plays the re-attacks
            written.append(path)
            samples = None
            if options.wav:
                samples = render_samples(track.score, rate)
                written.append(write_wav_samples(folder / f"{track.name}.wav", samples, rate))
                if track.role == "step":
                    if track.step:
                        stream.append(gap)
                    stream.append(samples)  # morph.wav: the steps' own WAVs in a row
            if options.musicxml and track.role == "step":
                from data_prep.interop import write_musicxml

                write_musicxml(track.score, folder / f"{track.name}.musicxml", track.title)
                written.append(folder / f"{track.name}.musicxml")
            if options.html:
                clock = time.perf_counter()
                written += write_pictures(folder, track.name, track.score, samples, rate, ranges)
                page_seconds += time.perf_counter() - clock
            if progress is not None:
                progress(done, len(tracks))
    finally:
        if stream is not None:
            stream.close()
    path = folder / "morph.mid"
    write_nesmdb_midi(morph, path, retrigger=True)
    written += [path] + ([folder / "morph.wav"] if options.wav else [])
    if options.plot:  # drawn in numpy: matplotlib's import alone took a third of a cold blend
        from .pictures import overview_image, write_png

        shown = _overview(tracks)
        written.append(write_png(folder / "piano-rolls.png", overview_image([t.score for t in shown],
                                                                            [t.title for t in shown])))
    return written, page_seconds


def _overview(tracks: list[Track]) -> list[Track]:
    """A, up to OVERVIEW_STEPS steps evenly spread (both ends), B: what piano-rolls.png shows."""
    steps = [t for t in tracks if t.role == "step"]
    keep = sorted(set(np.linspace(0, len(steps) - 1, min(len(steps), OVERVIEW_STEPS)).round().astype(int)))
    by_name = {t.name: t for t in tracks}
    a, b = by_name["a-original"], by_name["b-original"]
    return ([Track(a.name, "A", a.role, a.score)] + [steps[k] for k in keep] + [Track(b.name, "B", b.role, b.score)])


def _earlier_files(out: Path) -> list[str]:
    """The files an earlier blend wrote into ``out``, as the "files" of its blend.json list them: only
    plain relative paths inside ``out``; none when there is no readable record of a blend."""
    try:
        record = json.loads((out / "blend.json").read_text())
    except (OSError, ValueError):
        return []
    files = record.get("files") if isinstance(record, dict) and record.get("tool") == "nesinterp blend" else None
    if not isinstance(files, list):
        return []
    return [f for f in files if isinstance(f, str) and _plain_relative(f)]


def _plain_relative(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(path.parts) and not path.is_absolute() and ".." not in path.parts and str(path) == name


def _remove_stale(out: Path, earlier: list[str], current: set[str]) -> list[Path]:
    removed = []
    for name in earlier:
        path = out / name
        if name not in current and (path.is_file() or path.is_symlink()):
            path.unlink()
            removed.append(path)
    for folder in sorted({p.parent for p in removed if p.parent != out}, reverse=True):
        try:
            folder.rmdir()  # only when the earlier blend's files were all it held
        except OSError:
            pass
    return removed
