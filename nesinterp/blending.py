"""`nesinterp blend A B [C ...] --steps K -o OUT`: a morph from song A to song B (and on through C ...: a
medley, K steps a leg, each song between two legs once) through a trained model's latent space, written
as NES-MDB MIDI, WAV, piano rolls and a JSON record.

What is blended: by default one model window (2.7 s for the bundled model) of each song: the first
window, searched from the start in one-second hops, in which at least half of the frames sound
(else the fullest window); ``start`` picks it by time instead. ``whole`` blends the songs window by
window: both are cut into consecutive windows, the shorter song repeated from its start until it is
as long as the longer one, and step k joins the k-th interpolant of every window pair.

The folder is written as ``nesinterp.outputs`` writes every command's (all or nothing, nothing replaced
without ``force``, one track at a time: morph.wav is the steps' WAVs in a row). ``index.html``
(``page``) shows it all in a browser.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import NesinterpError
from .outputs import Outputs, Track, check_output, joined_with_gaps, planned_names, step_name, write_folder
from .score import FRAME_RATE, Field, Score

SEARCH_HOP = FRAME_RATE  # frames between candidate windows when looking for one with enough notes
MIN_SOUNDING = 0.5  # share of frames with any voice sounding that makes a window "enough"
MAX_SONGS = 26  # a medley's songs are labelled A to Z
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
    start_b: float | None = None  # and of every later song of a medley, unless ``starts`` says
    starts: tuple[float | None, ...] = ()  # one per song, overriding start_a/start_b
    whole: bool = False
    force: bool = False
    wav: bool = True
    plot: bool = True
    html: bool = True
    musicxml: bool = False  # also each step as MusicXML, for notation programs
    sample_rate: int = 44100
    refine: int | None = None  # code refinement steps (nesinterp.refine); None: the model's own

    @property
    def outputs(self) -> Outputs:
        return Outputs(self.wav, self.plot, self.html, self.musicxml, self.sample_rate, self.force)

    def start(self, i: int) -> float | None:
        """Where song i's window starts (seconds), None to choose it."""
        return self.starts[i] if self.starts else self.start_a if i == 0 else self.start_b


@dataclass
class BlendResult:
    out: Path
    files: list[Path]
    record: dict
    removed: list[Path] = field(default_factory=list)  # an earlier blend's files that this one replaced


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
    from .windows import score_windows

    piece = score_windows(score[first : first + window], window)[0]  # silence-padded when short
    if not piece[:, :, Field.NOTE].any():
        raise BlendError(f"{label}: the window at {first / FRAME_RATE:.1f} s has no notes")
    return piece, first


def song_windows(scores: list[Score], paths: list[str], window: int, starts: list[float | None],
                 whole: bool) -> tuple[list[np.ndarray], list[int]]:
    """(one window stack per song, its first frame): a window each, at its start or chosen by
    ``choose_window``; or with ``whole`` every window, the shorter songs repeated (``aligned_windows``)."""
    if whole:
        from .windows import aligned_windows

        return aligned_windows(scores, window), [0] * len(scores)
    chosen = [choose_window(s, window, start, str(p)) for s, p, start in zip(scores, paths, starts)]
    return [w[None] for w, _ in chosen], [f for _, f in chosen]


def _sounding_share(array: np.ndarray) -> float:
    return float(np.mean(array[:, :, Field.NOTE].any(axis=1))) if len(array) else 0.0


def _read(path: str, label: str) -> Score:
    from nesinterp.io.readers import ReadError, read_score

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
    return blend_songs([a_path, b_path], out, model, options, progress)


def blend(songs, *rest, **keywords) -> BlendResult:
    """``nesinterp.blend``: ``blend(a, b, out, model=None, options=BlendOptions(), progress=None)`` for a
    morph, as ``blend_files``; ``blend([a, b, c, ...], out, ...)`` for a medley, as ``blend_songs``.
    Songs are file paths."""
    if isinstance(songs, (list, tuple)):
        return blend_songs(list(songs), *rest, **keywords)
    if not rest:
        raise TypeError("blend(a, b, out, ...) or blend([a, b, ...], out, ...)")
    return blend_songs([songs, rest[0]], *rest[1:], **keywords)


def blend_songs(paths: list[str], out: str | Path, model=None, options: BlendOptions = BlendOptions(),
                progress: Callable[[int, int], None] | None = None) -> BlendResult:
    """Read the songs, walk from each to the next with ``model`` (a TrainedModel, a path, or None for
    the bundled one), ``options.steps`` points a leg, and write it all into ``out``. ``progress(done,
    total)`` is called after each track is written."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    _check_options(paths, options)
    out = Path(out)
    sides = [chr(ord("a") + i) for i in range(len(paths))]
    points = (len(paths) - 1) * (options.steps - 1) + 1
    stems = [x for side in sides for x in (f"{side}-original", side)] + [step_name(k, points) for k in range(points)]
    check_output(out, planned_names(stems, options.outputs, "blend.json", morph=True,
                                    overview="piano-rolls.png"), options.force, BlendError)
    scores = [_read(path, side.upper()) for path, side in zip(paths, sides)]
    timings["read"] = time.perf_counter() - clock

    from .checkpoint import CheckpointError
    from .trained_model import TrainedModel

    clock = time.perf_counter()
    if not isinstance(model, TrainedModel):
        try:
            model = TrainedModel.load(model)
        except CheckpointError as exc:
            raise BlendError(str(exc)) from None
    windows, firsts = song_windows(scores, paths, model.window, [options.start(i) for i in range(len(paths))],
                                   options.whole)
    path = model.medley(windows, options.steps, options.mode, options.temperature,
                        options.seed if options.temperature > 0 else None, joined=options.whole,
                        refine=options.refine)
    heard = [model.as_heard(w) for w in windows]
    timings["model"] = time.perf_counter() - clock

    clock = time.perf_counter()
    # (points, windows, frames, 4, 3) -> one Score per step, windows joined in time
    steps = [Score(np.ascontiguousarray(p.reshape(-1, 4, 3)), step_name(k, points), "nesinterp blend")
             for k, p in enumerate(path)]
    real = [w.reshape(-1, 4, 3) for w in windows]
    tracks = [t for i, side in enumerate(sides) for t in
              _input_tracks(real[i], heard[i], scores[i], firsts[i], str(paths[i]), side, options.whole)]
    leg_steps = options.steps - 1
    tracks += [Track(s.name, f"Step {k}", "step", s, step=k, t=round(k / (points - 1), 4),
                     extra=_leg(k, leg_steps, sides) if len(paths) > 2 else None) for k, s in enumerate(steps)]
    morph = joined_with_gaps(steps, "morph", "nesinterp blend")
    record = {
        "tool": "nesinterp blend",
        "inputs": {side: {"path": str(pa), "name": sc.name, "duration_s": round(sc.duration, 3),
                          "start_s": round(f / FRAME_RATE, 3), "frames": int(len(r))}
                   for side, pa, sc, f, r in zip(sides, paths, scores, firsts, real)},
        "model": model.describe(),
        "options": asdict(options),
        # --whole with a fully convolutional model: every step encoded and decoded as one sequence
        "joined": bool(options.whole and model.autoencoder.fully_convolutional),
        "refine_steps": model.refine_steps if options.refine is None else options.refine,
        "metrics": _metrics([s.array for s in steps], real, model, leg_steps),
        "tracks": [t.describe() for t in tracks] + [{"name": "morph", "title": "The morph", "role": "morph",
                                                    "seconds": round(morph.duration, 3)}],
    }
    record["warnings"] = [f"{s.name}: {w}" for s, m in zip(steps, record["metrics"]["steps"]) for w in m["warnings"]]
    for (i, x), (j, y) in zip(enumerate(windows), list(enumerate(windows))[1:]):
        if np.array_equal(x, y):
            record["warnings"].insert(0, f"{sides[i].upper()} and {sides[j].upper()} are the same window: "
                                         "every step between them should reconstruct it")
    timings["score"] = time.perf_counter() - clock

    from .page import page_html

    shown = _overview(tracks, sides)
    files, removed = write_folder(out, tracks, record, options.outputs, "blend.json", page_html, morph,
                                  ("piano-rolls.png", [t.score for t in shown], [t.title for t in shown]),
                                  progress, timings)
    return BlendResult(out, files, record, removed)


def _check_options(paths: list[str], options: BlendOptions) -> None:
    if len(paths) < 2:
        raise BlendError(f"a blend needs at least two songs, not {len(paths)}")
    if len(paths) > MAX_SONGS:
        raise BlendError(f"a medley takes at most {MAX_SONGS} songs (A to Z), not {len(paths)}")
    if options.steps < 2:
        raise BlendError(f"--steps must be at least 2 (it counts both endpoints), not {options.steps}")
    if options.mode not in ("slerp", "lerp"):
        raise BlendError(f"--mode must be slerp or lerp, not {options.mode!r}")
    if options.temperature < 0:
        raise BlendError("--temperature must not be negative")
    if options.refine is not None and options.refine < 0:
        raise BlendError(f"--refine must not be negative, not {options.refine}")
    if options.starts and len(options.starts) != len(paths):
        raise BlendError(f"{len(options.starts)} starts for {len(paths)} songs: give one for all or one per song")


def _leg(k: int, leg_steps: int, sides: list[str]) -> dict:
    """Which leg of a medley step k is on (a song between two legs: the one it starts) and where."""
    leg = min(k // leg_steps, len(sides) - 2)
    return {"leg": f"{sides[leg]}-{sides[leg + 1]}", "leg_t": round(k / leg_steps - leg, 4)}


def _metrics(steps: list[np.ndarray], real: list[np.ndarray], model, leg_steps: int) -> dict:
    """The blend's scores: for two songs the path's (``interpolation_report``, the listener-distance
    path scores, the inputs scored like the steps); for a medley the same for every leg under "legs",
    with every step's own scores in "steps" and the realism of the steps between songs."""
    from .metrics import interpolation_report, step_report
    from .metrics.paths import path_report

    reference, window = model.realism_reference(), model.window
    legs = []
    for i in range(len(real) - 1):
        leg = steps[i * leg_steps:(i + 1) * leg_steps + 1]
        # Endpoints are scored against the real input windows (with their volumes, so re-attacks count).
        report = interpolation_report(leg, real[i], real[i + 1], reference, window)
        # The path on the listener distance (docs/scores.md, section 2); its worst step from the steps' realism.
        report["path"] = path_report(leg)
        inner = [m.get("realism") for m in report["steps"][1:-1] if m.get("realism") is not None]
        report["path"]["worst_step_typicality"] = min(inner) if inner else None
        legs.append(report)
    # The inputs scored like the steps, so a step's onsets and realism can be read beside the songs'.
    inputs = {chr(ord("a") + i): step_report(r, real[max(0, i - 1)], real[min(i + 1, len(real) - 1)],
                                             reference, window) for i, r in enumerate(real)}
    if len(legs) == 1:
        return {**legs[0], "inputs": inputs}
    scored = [m for leg in legs for m in leg["steps"][:-1]] + [legs[-1]["steps"][-1]]
    inner = [m["realism"] for k, m in enumerate(scored) if k % leg_steps and m.get("realism") is not None]
    out = {"legs": legs, "steps": scored, "inputs": inputs, "realism": float(np.mean(inner)) if inner else None}
    if "realism_reference" in legs[0]:
        out["realism_reference"] = legs[0]["realism_reference"]
    return out


def _input_tracks(real: np.ndarray, heard: np.ndarray, score: Score, first: int, source: str, side: str,
                  whole: bool) -> list[Track]:
    label = side.upper()
    where = ("the whole song" if whole else
             f"{first / FRAME_RATE:.1f} s to {(first + len(real)) / FRAME_RATE:.1f} s of {score.duration:.1f} s")
    return [Track(f"{side}-original", f"{label} as it is", "input", Score(real, f"{side}-original", source),
                  input=side, about=f"{score.name}: {where}"),
            Track(side, f"{label} as the model hears it", "input", Score(heard.reshape(-1, 4, 3), side, source),
                  about="The same notes, with the volume and timbre the model decodes.")]


def _overview(tracks: list[Track], sides: list[str]) -> list[Track]:
    """The first song, up to OVERVIEW_STEPS steps evenly spread (both ends), the last song: what
    piano-rolls.png shows."""
    steps = [t for t in tracks if t.role == "step"]
    keep = sorted(set(np.linspace(0, len(steps) - 1, min(len(steps), OVERVIEW_STEPS)).round().astype(int)))
    by_name = {t.name: t for t in tracks}
    first, last = by_name[f"{sides[0]}-original"], by_name[f"{sides[-1]}-original"]
    return ([Track(first.name, sides[0].upper(), first.role, first.score)] + [steps[k] for k in keep]
            + [Track(last.name, sides[-1].upper(), last.role, last.score)])
