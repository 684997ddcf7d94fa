"""The folders of the verbs beyond two songs, written as ``blend`` writes its own (``nesinterp.outputs``:
all or nothing, no file replaced without ``force``), each with its JSON record and page
(``gallery_page``):

- ``sample_files``: ``nesinterp sample -n 8 -o OUT``: windows or songs drawn from the prior (sample.json).
- ``grid_files``: ``nesinterp grid A B C D --size 5 -o OUT``: the bilinear blend of four songs (grid.json).
- ``shift_files``: ``nesinterp shift SONG --attribute NAME=X --steps 5 -o OUT``: a sweep along an
  attribute vector from -X to +X (shift.json); ``write_attribute_vectors``: ``nesinterp attributes RUN``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .blending import BlendError, _read, song_windows
from .outputs import Outputs, Track, check_output, planned_names, step_name, write_folder
from .score import FRAME_RATE, Score

Progress = Callable[[int, int], None] | None


@dataclass(frozen=True)
class SampleOptions:
    n: int = 8
    seconds: float | None = None  # each sample a song this long; None: one model window
    temperature: float = 0.0
    seed: int = 0
    outputs: Outputs = field(default_factory=Outputs)


@dataclass(frozen=True)
class GridOptions:
    size: int = 5
    starts: tuple[float | None, ...] = ()  # one for all four songs, or one each; () chooses each window
    whole: bool = False
    temperature: float = 0.0
    seed: int = 0
    refine: int | None = None
    outputs: Outputs = field(default_factory=Outputs)


@dataclass(frozen=True)
class ShiftOptions:
    attribute: str = "density"
    amount: float = 1.5  # the sweep goes from -amount to +amount
    steps: int = 5
    start: float | None = None
    whole: bool = False
    temperature: float = 0.0
    seed: int = 0
    refine: int | None = None
    outputs: Outputs = field(default_factory=Outputs)


@dataclass
class GalleryResult:
    out: Path
    files: list[Path]
    record: dict
    removed: list[Path]


def _model(model):
    from .checkpoint import CheckpointError
    from .trained_model import TrainedModel

    if isinstance(model, TrainedModel):
        return model
    try:
        return TrainedModel.load(model)
    except CheckpointError as exc:
        raise BlendError(str(exc)) from None


def _scored(track: Track, model, window: int) -> dict:
    """A track's own scores, as a blend step's: onsets, sounding share, realism (and its warnings)."""
    from .metrics import step_report

    x = track.score.array
    return step_report(x, x, x, model.realism_reference(), window)


def _reference(model) -> dict:
    ref = model.realism_reference()
    return {"real_windows_typicality": None if ref is None else round(float(ref.typicality), 4)}


def sample_files(out: str | Path, model=None, options: SampleOptions = SampleOptions(), progress: Progress = None
                 ) -> GalleryResult:
    """Draw ``options.n`` codes from the prior and write what they decode to (``TrainedModel.sample``)."""
    from .gallery_page import sample_page

    if options.n < 1:
        raise BlendError(f"-n must be at least 1, not {options.n}")
    if options.seconds is not None and not 0 < options.seconds <= 600:
        raise BlendError(f"--seconds must be above 0 and at most 600, not {options.seconds:g}")
    if options.temperature < 0:
        raise BlendError("--temperature must not be negative")
    out, timings, clock = Path(out), {}, time.perf_counter()
    names = [step_name(k + 1, options.n, "sample") for k in range(options.n)]
    check_output(out, planned_names(names, options.outputs, "sample.json"), options.outputs.force, BlendError)
    model = _model(model)
    scores = model.sample(options.n, options.seed, options.temperature, options.seconds)
    timings["model"] = time.perf_counter() - clock
    tracks = [Track(name, f"Sample {k + 1}", "sample", s.with_name(name, "nesinterp sample"))
              for k, (name, s) in enumerate(zip(names, scores))]
    samples = [{"name": t.name, **_scored(t, model, model.window)} for t in tracks]
    record = {"tool": "nesinterp sample", "model": model.describe(), "options": asdict(options),
              "realism_reference": _reference(model), "samples": samples,
              "tracks": [t.describe() for t in tracks],
              "warnings": [f"{s['name']}: {w}" for s in samples for w in s["warnings"]]}
    inner = [s["realism"] for s in samples if s.get("realism") is not None]
    record["realism"] = round(float(np.mean(inner)), 4) if inner else None
    files, removed = write_folder(out, tracks, record, options.outputs, "sample.json", sample_page,
                                  progress=progress, timings=timings)
    return GalleryResult(out, files, record, removed)


def _windows(paths: list[str], model, starts: tuple, whole: bool) -> tuple[list[Score], list[np.ndarray], list[int]]:
    """(songs, one window stack each, first frames): a window per song as blend chooses it (or at its
    start), or with ``whole`` every window, the shorter songs repeated."""
    scores = [_read(p, chr(65 + i)) for i, p in enumerate(paths)]
    if starts and len(starts) not in (1, len(paths)) and not whole:
        raise BlendError(f"{len(starts)} starts for {len(paths)} songs: give one for all or one per song")
    per_song = [starts[min(i, len(starts) - 1)] if starts else None for i in range(len(paths))]
    return (scores, *song_windows(scores, paths, model.window, per_song, whole))


def _inputs(paths, scores, windows, firsts, sides) -> tuple[dict, list[Track]]:
    record, tracks = {}, []
    for side, path, score, stack, first in zip(sides, paths, scores, windows, firsts):
        real = stack.reshape(-1, 4, 3)
        record[side] = {"path": str(path), "name": score.name, "duration_s": round(score.duration, 3),
                        "start_s": round(first / FRAME_RATE, 3), "frames": int(len(real))}
        tracks.append(Track(f"{side}-original", f"{side.upper()} as it is", "input",
                            Score(real, f"{side}-original", str(path)), input=side,
                            about=f"{score.name}: from {first / FRAME_RATE:.1f} s of {score.duration:.1f} s"))
    return record, tracks


def grid_files(paths: list[str], out: str | Path, model=None, options: GridOptions = GridOptions(),
               progress: Progress = None) -> GalleryResult:
    """The four songs' bilinear blend (``TrainedModel.grid``): A top left, B top right, C bottom left,
    D bottom right; each cell scored for realism and its distance to the four corners."""
    from .gallery_page import grid_page
    from .metrics.paths import listener_distance

    if len(paths) != 4:
        raise BlendError(f"grid takes four songs (A B C D), not {len(paths)}")
    if not 2 <= options.size <= 16:
        raise BlendError(f"--size must be between 2 and 16, not {options.size}")
    if options.temperature < 0 or (options.refine is not None and options.refine < 0):
        raise BlendError("--temperature and --refine must not be negative")
    out, timings, clock = Path(out), {}, time.perf_counter()
    size, sides = options.size, ["a", "b", "c", "d"]
    cells = [(r, c) for r in range(size) for c in range(size)]
    width = max(2, len(str(size)))
    names = [f"cell-{r + 1:0{width}d}-{c + 1:0{width}d}" for r, c in cells]
    check_output(out, planned_names([f"{s}-original" for s in sides] + names, options.outputs, "grid.json"),
                 options.outputs.force, BlendError)
    model = _model(model)
    scores, windows, firsts = _windows(paths, model, options.starts, options.whole)
    board = model.grid(*windows, size=size, temperature=options.temperature,
                       seed=options.seed if options.temperature > 0 else None, joined=options.whole,
                       refine=options.refine)  # (size, size, n, window, 4, 3)
    timings["model"] = time.perf_counter() - clock
    inputs, tracks = _inputs(paths, scores, windows, firsts, sides)
    decoded = board.reshape(size * size, -1, 4, 3)
    corners = decoded[[0, size - 1, size * (size - 1), size * size - 1]]
    distances = listener_distance(decoded[:, None], corners[None]).round(4)  # (cells, 4)
    entries = []
    for k, ((r, c), name) in enumerate(zip(cells, names)):
        u, v = c / (size - 1), r / (size - 1)
        track = Track(name, f"Row {r + 1}, column {c + 1}", "cell", Score(decoded[k], name, "nesinterp grid"),
                      extra={"row": r, "col": c, "u": round(u, 4), "v": round(v, 4)})
        tracks.append(track)
        weights = [(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v]
        entries.append({"name": name, "row": r, "col": c, "weights": [round(w, 4) for w in weights],
                        "distance_to_corners": dict(zip(sides, distances[k].tolist())),
                        **_scored(track, model, model.window)})
    inner = [e["realism"] for e in entries if e.get("realism") is not None and max(e["weights"]) < 1]
    record = {"tool": "nesinterp grid", "inputs": inputs, "model": model.describe(), "options": asdict(options),
              "realism_reference": _reference(model), "cells": entries,
              "realism": round(float(np.mean(inner)), 4) if inner else None,
              "tracks": [t.describe() for t in tracks],
              "warnings": [f"{e['name']}: {w}" for e in entries for w in e["warnings"]]}
    files, removed = write_folder(out, tracks, record, options.outputs, "grid.json", grid_page,
                                  progress=progress, timings=timings)
    return GalleryResult(out, files, record, removed)


def shift_files(path: str, out: str | Path, model=None, options: ShiftOptions = ShiftOptions(),
                progress: Progress = None) -> GalleryResult:
    """``path`` moved along an attribute vector (``TrainedModel.shift``), ``options.steps`` amounts from
    -amount to +amount; every version's attributes measured (``nesinterp.attributes``)."""
    from .attributes import AttributeVectorError, measure_attributes
    from .gallery_page import shift_page

    if options.steps < 2:
        raise BlendError(f"--steps must be at least 2, not {options.steps}")
    if options.amount <= 0:
        raise BlendError(f"the amount must be above 0 (the sweep goes from -x to +x), not {options.amount:g}")
    if options.temperature < 0 or (options.refine is not None and options.refine < 0):
        raise BlendError("--temperature and --refine must not be negative")
    out, timings, clock = Path(out), {}, time.perf_counter()
    names = [step_name(k, options.steps) for k in range(options.steps)]
    check_output(out, planned_names(["a-original"] + names, options.outputs, "shift.json"), options.outputs.force,
                 BlendError)
    model = _model(model)
    try:
        model.attribute_vector(options.attribute)  # before any work: a model without them says so
    except AttributeVectorError as exc:
        raise BlendError(str(exc)) from None
    scores, windows, firsts = _windows([path], model, (options.start,) if options.start is not None else (),
                                       options.whole)
    amounts = np.linspace(-options.amount, options.amount, options.steps)
    sweep = model.shift(windows[0], options.attribute, amounts, options.temperature,
                        options.seed if options.temperature > 0 else None, options.refine)  # (k, n, window, 4, 3)
    timings["model"] = time.perf_counter() - clock
    inputs, tracks = _inputs([path], scores, windows, firsts, ["a"])
    measured = measure_attributes(sweep.reshape(len(amounts), 1, -1, 4, 3)[:, 0])
    real = measure_attributes(windows[0].reshape(1, -1, 4, 3))
    entries = []
    for k, (name, amount) in enumerate(zip(names, amounts)):
        track = Track(name, f"{options.attribute} {amount:+.2f}", "step", Score(sweep[k].reshape(-1, 4, 3), name,
                      "nesinterp shift"), step=k, t=round(k / (len(amounts) - 1), 4), extra={"amount": round(float(amount), 4)})
        tracks.append(track)
        entries.append({"name": name, "amount": round(float(amount), 4),
                        "attributes": {a: _round(v[k]) for a, v in measured.items()}, **_scored(track, model, model.window)})
    record = {"tool": "nesinterp shift", "inputs": inputs, "model": model.describe(), "options": asdict(options),
              "attribute": options.attribute, "realism_reference": _reference(model),
              "original_attributes": {a: _round(v[0]) for a, v in real.items()}, "steps": entries,
              "tracks": [t.describe() for t in tracks],
              "warnings": [f"{e['name']}: {w}" for e in entries for w in e["warnings"]]}
    files, removed = write_folder(out, tracks, record, options.outputs, "shift.json", shift_page,
                                  progress=progress, timings=timings)
    return GalleryResult(out, files, record, removed)


def _round(v) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 4)


def write_attribute_vectors(source: str | Path, data: str | Path | None = None, windows: int = 2048,
                            force: bool = False, progress=None, method: str = "quarters") -> list[str]:
    """``nesinterp attributes RUN``: the vectors of the model at ``source`` from ``windows`` train windows
    of the dataset at ``data`` (default: the model's data.path), saved as attributes.json beside its
    model.json; returns the lines to print (the file, then each attribute's gap and vector norm)."""
    from data_prep.dataset import Dataset

    from .attributes import NAMES, AttributeVectorError, attributes_path, compute_attribute_vectors, describe
    from .evaluate.music import corpus_windows
    from .trained_model import TrainedModel

    target = attributes_path(source)
    if target.exists() and not force:
        raise AttributeVectorError(f"{target}: already exists (use --force to replace it)")
    model = TrainedModel.load(source)
    data = data or (model.meta.get("config", {}).get("data", {}) or {}).get("path") or "data/nesmdb"
    train = corpus_windows(Dataset(data).split("train"), model.window, windows)
    vectors = compute_attribute_vectors(model, train, progress=progress, method=method)
    lines = [str(vectors.save(target.parent))]
    for name in NAMES:
        stats = vectors.stats.get(name, {})
        lines.append(f"{name}: {describe(name)}; " + ", ".join(f"{k} {v:.3g}" for k, v in stats.items()
                                                              if isinstance(v, (int, float))))
    return lines
