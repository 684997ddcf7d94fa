"""How fast the NES synthesizer renders real four-voice songs on one core, side by side with
pretty_midi's sine-wave synthesizer on the same notes. Prints a Markdown table.

    .venv/bin/python benchmarks/speed/bench_render.py [--songs 6] [--rate 44100] [--repeat 3]

Songs: the five NES-MDB MIDI samples and the longest four-voice songs of the exprsco valid split,
read from ../shared/data (or $NESINTERP_SHARED_DATA).
"""

from __future__ import annotations

import os

# One core: before numpy is imported, so its thread pools start with one thread.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import io
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

from nesinterp.io.nesmdb_midi import nesmdb_midi_bytes
from nesinterp.io.pickles import score_from_pickle_bytes, song_name
from nesinterp.io.readers import read_score
from nesinterp.synth import render_audio


def shared_data() -> Path:
    return Path(os.environ.get("NESINTERP_SHARED_DATA", ROOT.parent / "shared" / "data"))


def songs(count: int) -> list:
    found = [read_score(p) for p in sorted((shared_data() / "nesmdb-midi-samples").glob("*.mid"))]
    found = [s for s in found if s.duration >= 10 and (s.notes != 0).any(axis=0).all()]
    archive = shared_data() / "nesmdb" / "nesmdb24_exprsco.tar.gz"
    valid = []
    if archive.exists():
        with tarfile.open(archive, "r|gz") as tf:
            for member in tf:
                if member.isfile() and "/valid/" in member.name:
                    name = song_name(Path(member.name).name)
                    score = score_from_pickle_bytes(tf.extractfile(member).read(), name, member.name)
                    if (score.notes != 0).mean(axis=0).min() > 0.3:  # all four voices busy
                        valid.append(score)
    valid.sort(key=lambda s: -s.frames)
    return (found + valid)[:count] if valid else found[:count]


def best_times(fns, repeat: int) -> list[float]:
    """Best wall time of each function, the runs interleaved so that a busy moment of the machine
    hits both sides alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def synth_rows(chosen: list, rate: int, repeat: int) -> list[str]:
    """The Markdown table: each song rendered by the NES synth and by pretty_midi, and the total."""
    import pretty_midi

    pretty_midi.pretty_midi.MAX_TICK = 10**10  # NES-MDB songs over ~227 s exceed pretty_midi's default
    rows = ["| song | seconds | NES synth s | NES x real time | pretty_midi s | pretty_midi x real time "
            "| NES speed / pretty_midi |", "|---|---:|---:|---:|---:|---:|---:|"]
    total = [0.0, 0.0, 0.0]
    for score in chosen:
        render_audio(score[:48], rate)  # warm caches (tables, filters) outside the timing
        midi = pretty_midi.PrettyMIDI(io.BytesIO(nesmdb_midi_bytes(score)))
        nes, pm = best_times([lambda: render_audio(score, rate), lambda: midi.synthesize(fs=rate)], repeat)
        total[0] += score.duration
        total[1] += nes
        total[2] += pm
        rows.append(f"| {score.name[:40]} | {score.duration:.1f} | {nes:.3f} | {score.duration / nes:.0f}x "
                    f"| {pm:.3f} | {score.duration / pm:.0f}x | {pm / nes:.2f} |")
    seconds, nes, pm = total
    rows.append(f"| **all** | {seconds:.1f} | {nes:.3f} | **{seconds / nes:.0f}x** | {pm:.3f} "
                f"| {seconds / pm:.0f}x | **{pm / nes:.2f}** |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=8)
    parser.add_argument("--rate", type=int, default=44100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    # Both renderers are single-threaded numpy; limiting the thread pools to one keeps any BLAS/OpenMP
    # call (the synth's output filter is a small matrix product per block) on one core too.
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    chosen = songs(args.songs)
    if not chosen:
        sys.exit(f"no songs found under {shared_data()}")
    print(f"One core, {args.rate} Hz, best of {args.repeat}. pretty_midi: PrettyMIDI.synthesize "
          f"(sine waves; it skips the drum-channel noise voice) on the song's NES-MDB MIDI.\n")
    for line in synth_rows(chosen, args.rate, args.repeat):
        print(line)
    _ = np  # numpy is imported first on purpose (thread settings above)


if __name__ == "__main__":
    main()
