"""`nesinterp prep`: sources -> Scores (in parallel) -> train/valid/test -> a dataset folder.

The folder is built under a temporary name beside OUT and moved into place only when complete, so an
interrupted prep leaves no half dataset and an existing OUT stays as it was unless --force replaces it.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from nesinterp import __version__
from nesinterp.errors import NesinterpError
from nesinterp.jsonio import dumps
from nesinterp.score import DEFAULT_MAX_SECONDS, FRAME_RATE, Score

from .dataset import FORMAT, FORMAT_VERSION, SPLITS, write_split
from nesinterp.io.readers import ReadError, read_score, score_from_bytes
from .sources import Item, Skip, SourceError, expand_sources, nesmdb_game

class PrepError(NesinterpError):
    """Prep cannot produce a dataset; the message says why in one line."""


@dataclass(frozen=True)
class PrepOptions:
    workers: int = 1
    strict: bool = False
    force: bool = False
    valid_fraction: float = 0.05
    test_fraction: float = 0.05
    max_seconds: float = DEFAULT_MAX_SECONDS


@dataclass
class PrepResult:
    out: Path
    counts: dict
    skipped: list[Skip]
    seconds: float


def convert_item(item: Item, max_seconds: float = DEFAULT_MAX_SECONDS) -> Score | Skip:
    """One Item -> its Score, or a Skip saying why not. Runs in the worker processes."""
    try:
        if item.music21 is not None:
            from nesinterp.io.music21 import read_music21

            score = read_music21(item.music21, max_seconds)
        elif item.data is not None:
            score = score_from_bytes(item.data, item.filename, item.source, max_seconds)
        else:
            score = read_score(item.path, max_seconds)
    except ReadError as exc:
        return Skip(item.source, str(exc))
    except (ValueError, OSError) as exc:
        return Skip(item.source, str(exc) or type(exc).__name__)
    except Exception as exc:  # a reader bug must not sink a 5000-file prep; it is reported per file
        return Skip(item.source, f"unexpected {type(exc).__name__}: {exc}")
    if score.frames == 0:
        return Skip(item.source, "empty (no frames)")
    if score.is_silent:
        return Skip(item.source, "no notes")
    return score


def _convert_indexed(args):
    index, item, max_seconds = args
    return index, convert_item(item, max_seconds)


def assign_splits(items: list[Item], valid_fraction: float, test_fraction: float) -> list[str]:
    """Official NES-MDB split where the path has one; otherwise whole groups (games, composers, works)
    go to one split, chosen by a stable hash so the same inputs always split the same way."""
    groups = sorted({it.group for it in items if it.official_split is None},
                    key=lambda g: hashlib.sha1(g.encode()).hexdigest())
    n_valid = int(len(groups) * valid_fraction)
    n_test = int(len(groups) * test_fraction)
    split_of = {}
    for rank, group in enumerate(groups):
        split_of[group] = "valid" if rank < n_valid else "test" if rank < n_valid + n_test else "train"
    return [it.official_split or split_of[it.group] for it in items]


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise PrepError(f"{out}: exists and is a file, not a dataset folder")
    if out.exists() and not force:
        raise PrepError(f"{out}: already exists; use --force to replace it")
    for stale in out.parent.glob(f".{out.name}.tmp-*") if out.parent.exists() else []:
        pid = stale.name.rsplit("-", 1)[-1]
        if not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(stale, ignore_errors=True)  # left by a prep that was killed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_prep(sources: list[str], out: str | Path, options: PrepOptions = PrepOptions(),
             progress: bool = False, summary: bool = False) -> PrepResult:
    start = time.perf_counter()
    out = Path(out)
    _check_out(out, options.force)
    try:
        expanded = list(expand_sources(sources))
    except SourceError as exc:
        raise PrepError(str(exc)) from None
    items = [x for x in expanded if isinstance(x, Item)]
    skipped = [x for x in expanded if isinstance(x, Skip)]
    if not items and not skipped:
        raise PrepError(f"no song files found in {', '.join(sources)} "
                        "(looked for .mid, .midi, .exprsco.pkl, .seprsco.pkl, archives, music21:<name>)")

    results = _convert_all(items, options, progress)
    scores: dict[int, Score] = {}
    for index, result in results:
        if isinstance(result, Skip):
            skipped.append(result)
        else:
            scores[index] = result
    if skipped and options.strict:
        first = skipped[0]
        raise PrepError(f"{first.source}: {first.reason} (--strict; {len(skipped)} file(s) could not be used)")
    if not scores:
        reason = f"; first: {skipped[0].source}: {skipped[0].reason}" if skipped else ""
        raise PrepError(f"nothing usable in {', '.join(sources)}: all {len(skipped)} file(s) skipped{reason}")

    kept = sorted(scores)
    kept_items = [items[i] for i in kept]
    split_names = assign_splits(kept_items, options.valid_fraction, options.test_fraction)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        manifest_splits = {}
        for split in SPLITS:
            members = [i for i, s in zip(kept, split_names) if s == split]
            if not members:
                continue
            manifest_splits[split] = write_split(
                tmp, split, [scores[i] for i in members], [_game(items[i]) for i in members])
        counts = {
            "found": len(items) + sum(1 for x in expanded if isinstance(x, Skip)),
            "used": len(kept),
            "skipped": len(skipped),
        }
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "tool": "nesinterp",
            "tool_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "frame_rate": FRAME_RATE,
            "layout": "uint8 (frames, 4 voices P1 P2 TR NO, note velocity timbre), NES-MDB exprsco",
            "sources": [str(s) for s in sources],
            "options": asdict(options),
            "counts": counts,
            "splits": manifest_splits,
            "skipped": [{"source": s.source, "reason": s.reason} for s in skipped],
        }
        (tmp / "manifest.json").write_text(dumps(manifest, indent=2))
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    seconds = time.perf_counter() - start
    result = PrepResult(out, counts, skipped, seconds)
    if summary:
        print(summary_table(manifest, out, seconds))
    return result


def _game(item: Item) -> str:
    return nesmdb_game(Path(item.filename).name) or item.group


def _convert_all(items: list[Item], options: PrepOptions, progress: bool):
    tasks = [(i, item, options.max_seconds) for i, item in enumerate(items)]
    bar = _progress_bar(len(tasks), progress)
    try:
        if options.workers <= 1 or len(tasks) < 8:
            for task in tasks:
                result = _convert_indexed(task)
                bar.update(1)
                yield result
            return
        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
        chunk = max(1, min(64, len(tasks) // (options.workers * 8)))
        with context.Pool(options.workers) as pool:
            for result in pool.imap_unordered(_convert_indexed, tasks, chunksize=chunk):
                bar.update(1)
                yield result
    finally:
        bar.close()


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="song", desc="prep", disable=not enabled, file=sys.stderr,
                dynamic_ncols=True)


def _move_into_place(tmp: Path, out: Path) -> None:
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def summary_table(manifest: dict, out: Path, seconds: float) -> str:
    rows = ["| split | songs | games | hours | P1 | P2 | TR | NO |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for split, entry in manifest["splits"].items():
        shares = [f"{entry['voices'][v]['sounding_share']:.0%}" for v in ("P1", "P2", "TR", "NO")]
        rows.append(f"| {split} | {entry['songs']} | {entry['games']} | {entry['hours']:.2f} | " + " | ".join(shares) + " |")
    counts = manifest["counts"]
    lines = [f"Prepared {out} in {seconds:.1f} s: {counts['used']} songs used, {counts['skipped']} skipped "
             "(share of frames each voice sounds in the last columns).", "", *rows]
    if manifest["skipped"]:
        lines += ["", "Skipped (first 10; all in manifest.json):"]
        lines += [f"  {s['source']}: {s['reason']}" for s in manifest["skipped"][:10]]
    return "\n".join(lines)
