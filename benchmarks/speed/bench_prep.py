"""Ingestion speed: `prep` on the full exprsco archive, and the NES-MDB MIDI reader side by side with
pretty_midi's piano roll on the same files.

    python benchmarks/speed/bench_prep.py [--data ../shared/data] [--songs 200]

Prints Markdown tables. Not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

import pretty_midi

from data_prep import read_score
from data_prep.dataset import Dataset
from nesinterp.io.nesmdb_midi import write_nesmdb_midi
from data_prep.prep import PrepOptions, run_prep


def bench_archive(archive: Path, workers: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run_prep([str(archive)], Path(tmp) / "ds", PrepOptions(workers=workers))
        seconds = time.perf_counter() - start
        Dataset(Path(tmp) / "ds").split("train")
    return seconds, result.counts["used"]


def pretty_midi_roll(path: Path):
    pm = pretty_midi.PrettyMIDI(str(path))
    return [inst.get_piano_roll(fs=24) for inst in pm.instruments]


def time_per_file(fn, paths, repeats: int = 3) -> float:
    best = []
    for _ in range(repeats):
        start = time.perf_counter()
        for p in paths:
            fn(p)
        best.append(time.perf_counter() - start)
    return min(best) / len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("NESINTERP_SHARED_DATA", ROOT.parent / "shared" / "data")))
    parser.add_argument("--songs", type=int, default=200, help="valid-split songs written as MIDI for the side-by-side")
    args = parser.parse_args()
    archive = args.data / "nesmdb" / "nesmdb24_exprsco.tar.gz"
    samples = sorted((args.data / "nesmdb-midi-samples").glob("*.mid"))
    if not archive.exists():
        sys.exit(f"missing {archive}")
    pretty_midi.pretty_midi.MAX_TICK = 1e10  # NES-MDB songs run past pretty_midi's default limit

    print(f"## prep of the full exprsco archive ({os.cpu_count()} cores)\n")
    print("| workers | songs | seconds | songs/s |")
    print("|---:|---:|---:|---:|")
    for workers in sorted({1, os.cpu_count() or 1}):
        seconds, songs = bench_archive(archive, workers)
        print(f"| {workers} | {songs} | {seconds:.2f} | {songs / seconds:.0f} |")

    with tempfile.TemporaryDirectory() as tmp:
        ds_path = Path(tmp) / "ds"
        run_prep([str(archive)], ds_path, PrepOptions(workers=os.cpu_count() or 1))
        valid = Dataset(ds_path).split("valid")
        written = []
        for i in range(min(args.songs, len(valid))):
            path = Path(tmp) / f"{valid.songs[i].name}.mid"
            write_nesmdb_midi(valid.score(i), path)
            written.append(path)
        sets = [("LawnMower samples (real NES-MDB MIDI)", samples), (f"{len(written)} valid songs written by nesinterp", written)]
        print("\n## NES-MDB MIDI -> 24 Hz, per file, one process (best of 3)\n")
        print("| files | nesinterp read_score | pretty_midi + get_piano_roll(fs=24) per voice | speed-up |")
        print("|---|---:|---:|---:|")
        for label, paths in sets:
            if not paths:
                continue
            ours = time_per_file(read_score, paths)
            theirs = time_per_file(pretty_midi_roll, paths)
            print(f"| {label} | {ours * 1e3:.2f} ms | {theirs * 1e3:.2f} ms | {theirs / ours:.1f}x |")
        sizes = [p.stat().st_size for p in written]
        print(f"\n(written files: median {statistics.median(sizes) / 1024:.1f} KiB, max {max(sizes) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
