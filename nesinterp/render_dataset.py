"""Many songs to WAV at once: a prepared dataset (one split or all), an archive or a folder of songs,
one WAV per song, in parallel. What ``nesinterp render`` runs when an input is a folder or an archive.

Each WAV is written atomically (a temporary file moved into place), so a WAV that exists is complete.
The job's settings and WAVs are kept in ``OUT/.render.json``: the same command run again after an
interruption renders only the songs that are missing (resume), while a different job refuses to mix its
files into OUT unless ``--force``, which re-renders everything and removes the WAVs of the job it
replaces that it does not write again (only those the record lists: no other file is touched).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
import wave
from dataclasses import dataclass, field, replace
from pathlib import Path

from .jsonio import dumps
from .render import RenderError, _atomic_write, _check_rate, render_wav
from .score import FRAME_RATE, Score
from .synth import DEFAULT_SAMPLE_RATE

RECORD = ".render.json"
MANIFEST = "manifest.json"
SPLIT_NAMES = ("train", "valid", "test")


@dataclass(frozen=True)
class RenderOptions:
    split: str | None = None  # only this split (of a dataset, or NES-MDB's train/valid/test folders)
    workers: int = 1
    force: bool = False
    sample_rate: int = DEFAULT_SAMPLE_RATE
    normalize: bool = False
    manifest: bool = False


@dataclass
class RenderResult:
    out: Path
    rendered: int = 0  # WAVs written by this run
    resumed: int = 0  # WAVs already there from an interrupted run of the same job
    skipped: list = field(default_factory=list)  # (source, reason) of songs that could not be read
    audio_seconds: float = 0.0  # of the WAVs written by this run
    wall_seconds: float = 0.0
    songs: list = field(default_factory=list)  # manifest rows, in input order


def is_collection(source: str) -> bool:
    """A folder (a prepared dataset or any folder of songs) or an archive: many songs, not one file."""
    from data_prep.sources import ARCHIVE_SUFFIXES

    path = Path(source)
    return path.is_dir() or path.name.lower().endswith(ARCHIVE_SUFFIXES)


@dataclass(frozen=True)
class _Song:
    name: str
    split: str | None
    source: str
    payload: object  # a Score (from a dataset) or a data_prep Item (read by the worker)


def _dataset_songs(path: Path, split: str | None):
    from data_prep.dataset import Dataset

    dataset = Dataset(path)
    names = [split] if split else dataset.splits
    for name in names:
        part = dataset.split(name)  # raises DatasetError naming the folder and the missing split
        for i, entry in enumerate(part.songs):
            score = part.score(i)
            yield _Song(entry.name, None if split else name, entry.source,
                        Score(score.array.copy(), score.name, score.source))


def _songs(sources: list[str], split: str | None) -> tuple[list[_Song], list[tuple[str, str]]]:
    """Every song of the sources (only ``split``'s, when given) and the files skipped with the reason."""
    from nesinterp.io.pickles import song_name
    from data_prep.sources import Item, SourceError, expand_sources

    songs, skipped = [], []
    for source in sources:
        if (Path(source) / "manifest.json").is_file():
            songs += list(_dataset_songs(Path(source), split))
            continue
        try:
            for item in expand_sources([source]):
                if not isinstance(item, Item):
                    skipped.append((item.source, item.reason))
                elif split is None or item.official_split == split:
                    songs.append(_Song(song_name(Path(item.filename).name), None if split else item.official_split,
                                       item.source, item))
        except SourceError as exc:
            raise RenderError(str(exc)) from None
    return songs, skipped


def _target(out: Path, song: _Song) -> Path:
    return out / song.split / f"{song.name}.wav" if song.split else out / f"{song.name}.wav"


def _settings(sources, options: RenderOptions) -> dict:
    return {"sources": [str(Path(s).resolve()) for s in sources], "split": options.split,
            "sample_rate": options.sample_rate, "normalize": options.normalize}


def _prepare_out(out: Path, settings: dict, targets: list[Path], force: bool) -> bool:
    """Check OUT against the job; returns True when this run resumes an earlier run of the same job.
    With ``force``, the WAVs the earlier job's record lists and this job does not write are removed."""
    if out.exists() and not out.is_dir():
        raise RenderError(f"{out}: exists and is not a folder")
    if out.suffix.lower() == ".wav":
        raise RenderError(f"{out}: many songs need a folder, not one .wav file")
    record = out / RECORD
    try:
        earlier = json.loads(record.read_text()) if record.is_file() else None
    except (OSError, ValueError):
        earlier = None
    earlier = earlier if isinstance(earlier, dict) else None
    if force and earlier is not None:
        keep = {t.resolve() for t in targets}
        for name in earlier.get("wavs") or []:
            old = (out / str(name)).resolve()
            if old.suffix == ".wav" and old.is_relative_to(out.resolve()) and old not in keep:
                old.unlink(missing_ok=True)
    if record.is_file() and not force:
        if earlier is None or {k: v for k, v in earlier.items() if k != "wavs"} != settings:
            raise RenderError(f"{out}: holds a render made with other sources or settings "
                              "(use --force to replace it)")
        return True
    if not force:
        for target in targets:
            if target.exists():
                raise RenderError(f"{target} exists (use --force to replace it)")
    return False


def _render_one(task):
    """Worker: read one song if needed, render it, write its WAV. Returns (index, samples, reason).
    A song without notes still gets its (silent) WAV: one WAV per song."""
    index, song, target, sample_rate, normalize = task
    score = song.payload
    if not isinstance(score, Score):
        score = _read_item(score)
        if isinstance(score, str):
            return index, 0, score
    target.parent.mkdir(parents=True, exist_ok=True)
    render_wav(score, target, sample_rate, normalize, force=True)
    return index, score.frames * sample_rate // FRAME_RATE, None


def _read_item(item):
    """The Score of a data_prep Item, or why it cannot be read."""
    from nesinterp.io.readers import ReadError, read_score, score_from_bytes

    if item.music21 is not None:
        from data_prep.prep import convert_item

        score = convert_item(item)
        return score if isinstance(score, Score) else score.reason
    try:
        if item.data is not None:
            return score_from_bytes(item.data, item.filename, item.source)
        return read_score(item.path)
    except (ReadError, ValueError, OSError) as exc:
        return str(exc) or type(exc).__name__


def _wav_samples(path: Path) -> int:
    with wave.open(str(path), "rb") as w:
        return w.getnframes()


def render_dataset(sources, out, options: RenderOptions = RenderOptions(), progress: bool = False) -> RenderResult:
    """Render every song of ``sources`` (prepared dataset folders, archives, folders of songs) to
    ``OUT/[<split>/]<name>.wav``; see the module docstring for resuming and ``--force``. Songs that
    cannot be read are skipped and listed in the result (and the manifest)."""
    start = time.perf_counter()
    sources = [str(s) for s in sources]
    out = Path(out)
    if options.split is not None and options.split not in SPLIT_NAMES:
        raise RenderError(f"--split {options.split}: not one of {', '.join(SPLIT_NAMES)}")
    options = replace(options, sample_rate=_check_rate(options.sample_rate))
    songs, skipped = _songs(sources, options.split)
    if not songs:
        where = f" in the {options.split} split" if options.split else ""
        raise RenderError(f"no songs found{where} of {', '.join(sources)}")
    targets = [_target(out, s) for s in songs]
    seen: dict[Path, str] = {}
    for song, target in zip(songs, targets):
        if target in seen:
            raise RenderError(f"{song.source}: would overwrite the render of {seen[target]} ({target.name})")
        seen[target] = song.source
    settings = _settings(sources, options)
    resuming = _prepare_out(out, settings, targets, options.force)
    out.mkdir(parents=True, exist_ok=True)
    record = {**settings, "wavs": [t.relative_to(out).as_posix() for t in targets]}  # what --force may remove
    _atomic_write(out / RECORD, lambda f: f.write(dumps(record, indent=2).encode()), force=True)
    for stale in out.rglob(".*.wav.*.part"):  # left by a render that was killed mid-file
        stale.unlink(missing_ok=True)

    result = RenderResult(out, skipped=list(skipped))
    samples = [0] * len(songs)
    tasks = []
    for i, (song, target) in enumerate(zip(songs, targets)):
        if resuming and target.exists():
            samples[i] = _wav_samples(target)
            result.resumed += 1
        else:
            tasks.append((i, song, target, options.sample_rate, options.normalize))
    failed = {}
    for index, count, reason in _run(tasks, options.workers, progress):
        if reason is None:
            samples[index] = count
            result.rendered += 1
            result.audio_seconds += count / options.sample_rate
        else:
            failed[index] = reason
    result.skipped += [(songs[i].source, failed[i]) for i in sorted(failed)]
    result.songs = [{"name": s.name, "split": s.split, "wav": str(t.relative_to(out)), "source": s.source,
                     "samples": n, "seconds": round(n / options.sample_rate, 4)}
                    for i, (s, t, n) in enumerate(zip(songs, targets, samples)) if i not in failed]
    if options.manifest:
        manifest = {"format": "nesinterp-audio", **settings, "songs": result.songs,
                    "skipped": [{"source": s, "reason": r} for s, r in result.skipped]}
        _atomic_write(out / MANIFEST, lambda f: f.write(dumps(manifest, indent=1).encode()), force=True)
    result.wall_seconds = time.perf_counter() - start
    return result


def _run(tasks, workers: int, progress: bool):
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), unit="song", desc="render", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    try:
        if workers <= 1 or len(tasks) < 2:
            for task in tasks:
                with _one_blas_thread():
                    done = _render_one(task)
                bar.update(1)
                yield done
            return
        # Longest songs first, so that no worker is left with a long song at the end.
        tasks = sorted(tasks, key=lambda t: -_length(t[1]))
        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
        with context.Pool(min(workers, len(tasks)), initializer=_one_blas_thread) as pool:
            for done in pool.imap_unordered(_render_one, tasks, chunksize=1):
                bar.update(1)
                yield done
    finally:
        bar.close()


def _one_blas_thread():
    """The synth's matrix products are small: BLAS threads only spin against the other workers
    (measured: twice the CPU time for the same wall time). Limited where threadpoolctl is installed;
    returns the limit as a context (a worker keeps it for its life)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)


def _length(song: _Song) -> int:
    payload = song.payload
    if isinstance(payload, Score):
        return payload.frames
    return len(payload.data) if payload.data is not None else (os.path.getsize(payload.path) if payload.path else 0)


def summary(result: RenderResult, workers: int) -> str:
    """One line: what was written, how much audio, how fast."""
    speed = result.audio_seconds / result.wall_seconds if result.wall_seconds else 0.0
    parts = [f"rendered {result.rendered} songs ({result.audio_seconds / 3600:.2f} h of audio) to {result.out} "
             f"in {result.wall_seconds:.1f} s ({speed:.0f}x real time, {workers} worker{'s' if workers > 1 else ''})"]
    if result.resumed:
        parts.append(f"{result.resumed} already there")
    if result.skipped:
        parts.append(f"{len(result.skipped)} skipped (first: {result.skipped[0][0]}: {result.skipped[0][1]})")
    return "; ".join(parts)


def render_command(inputs, out, split, workers, force, rate, normalize, manifest, quiet) -> str:
    """``nesinterp render`` for folders and archives: renders, reports on stderr, returns OUT."""
    options = RenderOptions(split=split, workers=workers or os.cpu_count() or 1, force=force, sample_rate=rate,
                            normalize=normalize, manifest=manifest)
    try:
        result = render_dataset(inputs, out, options, progress=not quiet and sys.stderr.isatty())
    except KeyboardInterrupt:
        print("nesinterp: interrupted; the same command renders the songs still missing", file=sys.stderr)
        sys.exit(130)
    if not quiet:
        print(f"nesinterp: {summary(result, options.workers)}", file=sys.stderr)
    for source, reason in result.skipped:
        print(f"nesinterp: warning: skipped {source}: {reason}", file=sys.stderr)
    return str(out)


__all__ = ["RenderOptions", "RenderResult", "is_collection", "render_command", "render_dataset", "summary"]
