"""Issue #16 in one run on one core, side by side: the NES synthesizer against pretty_midi's synthesizer
on the same songs, the whole NES-MDB valid split rendered to WAV, `nesinterp blend` from a cold start
against `python -c "import torch"`, and reading NES-MDB MIDI against pretty_midi + piano roll.

    python benchmarks/speed/bench_speed.py [--songs 8] [--repeat 5] [--blend-runs 5] [--cpu 0]

Prints Markdown. Real data from ../shared/data (or $NESINTERP_SHARED_DATA). Every process of the run
(the blend and torch cold starts too) is pinned to one CPU, and BLAS/OpenMP pools to one thread.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported; inherited by the cold-start subprocesses

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from bench_render import best_times, shared_data, songs, synth_rows


def synth_section(count: int, rate: int, repeat: int) -> None:
    print(f"## 1. Synthesizer, {rate} Hz, best of {repeat} (pretty_midi: PrettyMIDI.synthesize, sine waves, "
          "on the song's NES-MDB MIDI; it skips the drum-channel noise voice)\n")
    for line in synth_rows(songs(count), rate, repeat):
        print(line)


def valid_split_section(rate: int) -> None:
    from nesinterp.render_dataset import RenderOptions, render_dataset

    archive = shared_data() / "nesmdb" / "nesmdb24_exprsco.tar.gz"
    print(f"\n## 2. The whole valid split to WAV ({rate} Hz, 16-bit), `render_dataset` = `nesinterp render "
          f"{archive.name} --split valid --workers 1`\n")
    print("| songs | skipped | hours of audio | wall s (read, render, write) | x real time |")
    print("|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = render_dataset([archive], Path(tmp) / "valid", RenderOptions(split="valid", sample_rate=rate))
        wall = time.perf_counter() - start
    hours = result.audio_seconds / 3600
    print(f"| {result.rendered} | {len(result.skipped)} | {hours:.2f} | {wall:.1f} | {result.audio_seconds / wall:.0f}x |")


def _cold(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def blend_section(runs: int) -> None:
    exe = Path(sys.executable).parent / "nesinterp"
    examples = ROOT / "nesinterp" / "examples"
    torch_times, blend_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):  # interleaved, so a busy moment of the machine hits both alike
            torch_times.append(_cold([sys.executable, "-c", "import torch"]))
            blend_times.append(_cold([str(exe), "blend", str(examples / "overworld.mid"), str(examples / "dungeon.mid"),
                                      "--steps", "8", "-o", str(Path(tmp) / f"b{i}")]))
    t, b = statistics.median(torch_times), statistics.median(blend_times)
    print(f"\n## 3. Cold start: `nesinterp blend` (8 steps, MIDI, WAVs, piano rolls, page) vs `python -c \"import "
          f"torch\"`, median of {runs}\n")
    print("| import torch s | blend s | blend / import torch |")
    print("|---:|---:|---:|")
    print(f"| {t:.2f} | {b:.2f} | **{b / t:.2f}** |")


def midi_section(repeat: int) -> None:
    import pretty_midi

    from data_prep import read_score

    pretty_midi.pretty_midi.MAX_TICK = 1e10
    paths = sorted((shared_data() / "nesmdb-midi-samples").glob("*.mid"))

    def roll(path):
        pm = pretty_midi.PrettyMIDI(str(path))
        return [inst.get_piano_roll(fs=24) for inst in pm.instruments]

    ours, theirs = (t / len(paths) for t in best_times(
        [lambda: [read_score(p) for p in paths], lambda: [roll(p) for p in paths]], repeat))
    print(f"\n## 4. NES-MDB MIDI -> 24 Hz score, the {len(paths)} LawnMower samples, per file, best of {repeat}\n")
    print("| nesinterp read_score | pretty_midi + get_piano_roll(fs=24) per voice | speed-up |")
    print("|---:|---:|---:|")
    print(f"| {ours * 1e3:.2f} ms | {theirs * 1e3:.2f} ms | **{theirs / ours:.1f}x** |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=8)
    parser.add_argument("--rate", type=int, default=44100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--blend-runs", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=0, help="the CPU to pin the run to")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    print(f"One core (CPU {args.cpu}), one thread. {time.strftime('%Y-%m-%d %H:%M')}\n")
    synth_section(args.songs, args.rate, args.repeat)
    valid_split_section(args.rate)
    blend_section(args.blend_runs)
    midi_section(args.repeat * 3)


if __name__ == "__main__":
    main()
