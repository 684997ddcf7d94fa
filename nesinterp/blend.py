"""`nesinterp blend A B --steps K -o OUT`: a morph from song A to song B through a trained model's latent
space, written as NES-MDB MIDI, WAV, piano rolls and a JSON record.

What is blended: by default one model window (2.7 s for the bundled model) of each song: the first
window, searched from the start in one-second hops, in which at least half of the frames sound
(else the fullest window); ``start`` picks it by time instead. ``whole`` blends the songs window by
window: both are cut into consecutive windows, the shorter song repeated from its start until it is
as long as the longer one, and step k joins the k-th interpolant of every window pair.

All files are first written to a temporary folder inside OUT and moved into place only when every one
of them is complete; existing files are replaced only with ``force``.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import NesinterpError
from .jsonio import dumps
from .score import FRAME_RATE, Field, Score

SEARCH_HOP = FRAME_RATE  # frames between candidate windows when looking for one with enough notes
MIN_SOUNDING = 0.5  # share of frames with any voice sounding that makes a window "enough"
GAP_SECONDS = 0.5  # silence between steps in morph.mid/morph.wav


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
    sample_rate: int = 44100


@dataclass
class BlendResult:
    out: Path
    files: list[Path]
    record: dict


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


def whole_windows(a: Score, b: Score, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Both songs as stacks of consecutive windows of equal count; the shorter song is repeated."""
    from .data import score_windows

    wa, wb = score_windows(a, window), score_windows(b, window)
    n = max(len(wa), len(wb))
    return np.resize(wa, (n, *wa.shape[1:])), np.resize(wb, (n, *wb.shape[1:]))


def _planned_names(steps: int, wav: bool, plot: bool) -> list[str]:
    stems = [f"step-{k:02d}-of-{steps:02d}" for k in range(steps)] + ["a", "b", "morph"]
    names = [f"{s}.mid" for s in stems] + ([f"{s}.wav" for s in stems] if wav else [])
    return names + (["piano-rolls.png"] if plot else []) + ["blend.json"]


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


def blend_files(a_path: str, b_path: str, out: str | Path, model=None,
                options: BlendOptions = BlendOptions()) -> BlendResult:
    """Read A and B, interpolate with ``model`` (a TrainedModel, a path, or None for the bundled one)
    and write the morph into ``out``."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    if options.steps < 2:
        raise BlendError(f"--steps must be at least 2 (it counts both endpoints), not {options.steps}")
    if options.mode not in ("slerp", "lerp"):
        raise BlendError(f"--mode must be slerp or lerp, not {options.mode!r}")
    if options.temperature < 0:
        raise BlendError("--temperature must not be negative")
    out = Path(out)
    names = _planned_names(options.steps, options.wav, options.plot)
    _check_output(out, names, options.force)

    score_a, score_b = _read(a_path, "A"), _read(b_path, "B")
    timings["read"] = time.perf_counter() - clock

    from .checkpoint import CheckpointError
    from .interpolate import TrainedModel

    clock = time.perf_counter()
    if not isinstance(model, TrainedModel):
        try:
            model = TrainedModel.load(model)
        except CheckpointError as exc:
            raise BlendError(str(exc)) from None
    window = model.window
    if options.whole:
        wa, wb = whole_windows(score_a, score_b, window)
        first_a = first_b = 0
    else:
        wa, first_a = choose_window(score_a, window, options.start_a, f"{a_path}")
        wb, first_b = choose_window(score_b, window, options.start_b, f"{b_path}")
        wa, wb = wa[None], wb[None]
    path = model.interpolate(wa, wb, options.steps, options.mode, options.temperature,
                             options.seed if options.temperature > 0 else None)
    heard_a, heard_b = model.as_heard(wa), model.as_heard(wb)
    timings["model"] = time.perf_counter() - clock

    # (steps, windows, frames, 4, 3) -> one Score per step, windows joined in time
    steps = [Score(np.ascontiguousarray(p.reshape(-1, 4, 3)), f"step-{k:02d}-of-{options.steps:02d}", "nesinterp blend")
             for k, p in enumerate(path)]
    input_a = Score(heard_a.reshape(-1, 4, 3), "a", str(a_path))
    input_b = Score(heard_b.reshape(-1, 4, 3), "b", str(b_path))
    gap = np.zeros((int(GAP_SECONDS * FRAME_RATE), 4, 3), np.uint8)
    morph = Score(np.concatenate([np.concatenate([s.array, gap]) for s in steps])[: -len(gap)], "morph",
                  "nesinterp blend")

    from .metrics import interpolation_report

    record = {
        "tool": "nesinterp blend",
        "inputs": {
            "a": {"path": str(a_path), "name": score_a.name, "duration_s": round(score_a.duration, 3),
                  "start_s": round(first_a / FRAME_RATE, 3), "frames": int(input_a.frames)},
            "b": {"path": str(b_path), "name": score_b.name, "duration_s": round(score_b.duration, 3),
                  "start_s": round(first_b / FRAME_RATE, 3), "frames": int(input_b.frames)},
        },
        "model": model.describe(),
        "options": asdict(options),
        # Endpoints are scored against the real input windows (with their volumes, so re-attacks count).
        "metrics": interpolation_report([s.array for s in steps], wa.reshape(-1, 4, 3), wb.reshape(-1, 4, 3),
                                        model.realism_reference(), window),
    }
    record["warnings"] = [f"{s.name}: {w}" for s, m in zip(steps, record["metrics"]["steps"]) for w in m["warnings"]]
    if np.array_equal(wa, wb):
        record["warnings"].insert(0, "A and B are the same window: every step should reconstruct it")

    clock = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".blend-tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        written = _write_all(tmp, steps, input_a, input_b, morph, options)
        timings["write"] = time.perf_counter() - clock
        record["timings_s"] = {k: round(v, 4) for k, v in timings.items()}
        record["files"] = sorted(p.name for p in written) + ["blend.json"]
        (tmp / "blend.json").write_text(dumps(record, indent=2))
        final = []
        for name in names:
            os.replace(tmp / name, out / name)
            final.append(out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return BlendResult(out, final, record)


def _write_all(folder: Path, steps: list[Score], a: Score, b: Score, morph: Score, options: BlendOptions) -> list[Path]:
    from data_prep.nesmdb_midi import write_nesmdb_midi

    scores = [*steps, a, b, morph]
    written = []
    for score in scores:
        path = folder / f"{score.name}.mid"
        write_nesmdb_midi(score, path)
        written.append(path)
    if options.wav:
        from .render import wav_bytes

        for score in scores:
            path = folder / f"{score.name}.wav"
            path.write_bytes(wav_bytes(score, options.sample_rate))
            written.append(path)
    if options.plot:
        from .render import plot_piano_roll

        path = folder / "piano-rolls.png"
        plot_piano_roll(steps, path)
        written.append(path)
    return written
