"""A folder of things to hear, written the same way by every command that makes music from a model
(blend, sample, grid, shift): each track as NES-MDB MIDI, WAV and the page's pictures, a JSON record
(``<tool>.json``) listing every file, and ``index.html``.

All files are first written to a temporary folder inside OUT and moved into place only when every one
of them is complete; existing files are replaced only with ``force``, which also removes the files an
earlier run of the same command listed in its record and this one does not write. Tracks are written
one at a time, so memory does not grow with their number.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

import numpy as np

from .errors import NesinterpError
from .jsonio import dumps
from .score import FRAME_RATE, Score

GAP_SECONDS = 0.5  # silence between steps in morph.mid/morph.wav


class OutputError(NesinterpError):
    """An output folder that cannot be written as asked; the message says why in one line."""


@dataclass(frozen=True)
class Outputs:
    """What a folder gets besides each track's MIDI, and whether it may replace files."""

    wav: bool = True
    plot: bool = True  # an overview PNG of the tracks' piano rolls, where the command draws one
    html: bool = True  # index.html and the pictures it shows
    musicxml: bool = False  # the steps (tracks with a step number) as MusicXML too
    sample_rate: int = 44100
    force: bool = False


@dataclass(frozen=True)
class Track:
    """One thing to hear in the folder: an input window, a step, a sample, a grid cell; written as
    <name>.mid/.wav."""

    name: str
    title: str
    role: str  # "input", "step", "sample", "cell", ...
    score: Score
    step: int | None = None
    t: float | None = None  # where the step is on the way from A (0) to B (1)
    input: str | None = None  # "a", "b", ... for the original windows, whose scores the page shows
    about: str = ""
    extra: dict | None = None  # more to record for the track (a leg, a grid position, an amount)

    def describe(self) -> dict:
        out = {"name": self.name, "title": self.title, "role": self.role, "seconds": round(self.score.duration, 3)}
        extra = {"step": self.step, "t": self.t, "input": self.input, "about": self.about, **(self.extra or {})}
        return {**out, **{k: v for k, v in extra.items() if v not in (None, "")}}


def step_name(k: int, steps: int, prefix: str = "step") -> str:
    """``step-03-of-08``: zero-padded to the width of the step count (at least two digits), so the
    names sort in step order (``step-007-of-500``)."""
    width = max(2, len(str(steps)))
    return f"{prefix}-{k:0{width}d}-of-{steps:0{width}d}"


def planned_names(stems: list[str], outputs: Outputs, record_name: str, morph: bool = False,
                  overview: str | None = None) -> list[str]:
    """Every file a folder of these tracks will hold (``morph``: also morph.mid/.wav; ``overview``: the
    name of the overview PNG, drawn with ``outputs.plot``)."""
    from .page import roll_picture, spectrogram_picture

    heard = stems + (["morph"] if morph else [])
    names = [f"{s}.mid" for s in heard] + ([f"{s}.wav" for s in heard] if outputs.wav else [])
    if outputs.html:
        names += [roll_picture(s) for s in stems] + ([spectrogram_picture(s) for s in stems] if outputs.wav else [])
    names += ([overview] if outputs.plot and overview else []) + (["index.html"] if outputs.html else [])
    names += [f"{s}.musicxml" for s in stems if s.startswith("step-")] if outputs.musicxml else []
    return names + [record_name]


def check_output(out: Path, names: list[str], force: bool, error: type[NesinterpError] = OutputError) -> None:
    """Refuse, before any work, a folder that is a file or already holds one of ``names`` (unless
    ``force``), with ``error``."""
    if out.exists() and not out.is_dir():
        raise error(f"{out}: exists and is a file; the output must be a folder")
    if out.exists() and not force:
        clash = [n for n in names if (out / n).exists()]
        if clash:
            raise error(f"{out / clash[0]}: already exists ({len(clash)} of the output files do); "
                        "use --force to replace them")


def write_folder(out: Path, tracks: list[Track], record: dict, outputs: Outputs, record_name: str,
                 page: Callable[[dict], str] | None = None, morph: Score | None = None,
                 overview: tuple[str, list[Score], list[str]] | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 timings: dict[str, float] | None = None) -> tuple[list[Path], list[Path]]:
    """Write ``tracks`` (and ``morph``: the steps' audio in a row, ``overview``: (png name, scores,
    titles) drawn side by side), ``page(record)`` as index.html with ``outputs.html``, and ``record``
    as ``record_name`` with its "files" and "timings_s" filled in; all or nothing. Returns (files
    written, an earlier run's files removed). ``record["tool"]`` names the command, which ``force``
    uses to know which earlier record's files it may remove."""
    clock = time.perf_counter()
    timings = {} if timings is None else timings
    earlier = _earlier_files(out, record_name, record["tool"]) if outputs.force else []
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{Path(record_name).stem}-tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        written, timings["page"] = _write_tracks(tmp, tracks, outputs, progress, morph)
        if overview is not None and outputs.plot:  # drawn in numpy: matplotlib's import took a third of a blend
            from .pictures import overview_image, write_png

            name, scores, titles = overview
            written.append(write_png(tmp / name, overview_image(scores, titles)))
        files = sorted(p.relative_to(tmp).as_posix() for p in written)
        record["files"] = sorted(files + (["index.html"] if outputs.html and page else [])) + [record_name]
        if outputs.html and page is not None:
            page_clock = time.perf_counter()
            (tmp / "index.html").write_text(page(record), encoding="utf-8")
            timings["page"] += time.perf_counter() - page_clock
        timings["write"] = time.perf_counter() - clock
        record["timings_s"] = {k: round(v, 4) for k, v in timings.items()}
        (tmp / record_name).write_text(dumps(record, indent=2))
        final = []
        for name in record["files"]:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / name, out / name)
            final.append(out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final, _remove_stale(out, earlier, set(record["files"]))


def _write_tracks(folder: Path, tracks: list[Track], outputs: Outputs,
                  progress: Callable[[int, int], None] | None, morph: Score | None) -> tuple[list[Path], float]:
    """Every track's files, one track at a time; (files, seconds spent on the page's pictures)."""
    from nesinterp.io.nesmdb_midi import write_nesmdb_midi

    from .page import write_pictures
    from .pictures import pitch_ranges
    from .render import WavStream, render_samples, write_wav_samples

    rate = outputs.sample_rate
    written, page_seconds = [], 0.0
    ranges = pitch_ranges([t.score for t in tracks]) if outputs.html else None
    stream = WavStream(folder / "morph.wav", rate) if outputs.wav and morph is not None else None
    gap = np.zeros(int(GAP_SECONDS * FRAME_RATE) * rate // FRAME_RATE, "<i2")
    try:
        for done, track in enumerate(tracks, 1):
            path = folder / f"{track.name}.mid"
            write_nesmdb_midi(track.score, path, retrigger=True)  # any synth plays the re-attacks
            written.append(path)
            samples = None
            if outputs.wav:
                samples = render_samples(track.score, rate)
                written.append(write_wav_samples(folder / f"{track.name}.wav", samples, rate))
                if stream is not None and track.role == "step":
                    if track.step:
                        stream.append(gap)
                    stream.append(samples)  # morph.wav: the steps' own WAVs in a row
            if outputs.musicxml and track.step is not None:
                from nesinterp.io.interop import write_musicxml

                write_musicxml(track.score, folder / f"{track.name}.musicxml", track.title)
                written.append(folder / f"{track.name}.musicxml")
            if outputs.html:
                clock = time.perf_counter()
                written += write_pictures(folder, track.name, track.score, samples, rate, ranges)
                page_seconds += time.perf_counter() - clock
            if progress is not None:
                progress(done, len(tracks))
    finally:
        if stream is not None:
            stream.close()
    if morph is not None:
        path = folder / "morph.mid"
        write_nesmdb_midi(morph, path, retrigger=True)
        written += [path] + ([folder / "morph.wav"] if outputs.wav else [])
    return written, page_seconds


def joined_with_gaps(scores: list[Score], name: str, source: str) -> Score:
    """The scores in a row, GAP_SECONDS of silence between them (morph.mid)."""
    gap = np.zeros((int(GAP_SECONDS * FRAME_RATE), 4, 3), np.uint8)
    return Score(np.concatenate([np.concatenate([s.array, gap]) for s in scores])[: -len(gap)], name, source)


def _earlier_files(out: Path, record_name: str, tool: str) -> list[str]:
    """The files an earlier run of ``tool`` wrote into ``out``, as the "files" of its record list them:
    only plain relative paths inside ``out``; none when there is no readable record of one."""
    try:
        record = json.loads((out / record_name).read_text())
    except (OSError, ValueError):
        return []
    files = record.get("files") if isinstance(record, dict) and record.get("tool") == tool else None
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
            folder.rmdir()  # only when the earlier run's files were all it held
        except OSError:
            pass
    return removed
