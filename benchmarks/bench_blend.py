"""`nesinterp blend` speed: the whole command from a cold start (a fresh interpreter each time, as a
user runs it), and where the time goes inside one run.

    python benchmarks/bench_blend.py [--model RUN_DIR] [--repeats 5]

Blends the two bundled example songs with 8 steps, WAVs and piano rolls included. Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
A = ROOT / "nesinterp" / "examples" / "overworld.mid"
B = ROOT / "nesinterp" / "examples" / "dungeon.mid"

PROFILE = r"""
import sys, time, json
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
from nesinterp.cli import main
from nesinterp.blend import blend_files, BlendOptions
t2 = time.perf_counter()
result = blend_files(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] or None, BlendOptions(steps=8))
t3 = time.perf_counter()
stages = {"import torch": t1 - t0, "import nesinterp": t2 - t1, **result.record["timings_s"]}
stages["blend_files total"] = t3 - t2
print(json.dumps(stages))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="run dir or model file (default: the bundled model)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "nesinterp"
    walls = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            out = Path(tmp) / f"out{i}"
            cmd = [str(exe), "blend", str(A), str(B), "--steps", "8", "-o", str(out)]
            cmd += ["--model", args.model] if args.model else []
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            walls.append(time.perf_counter() - start)
        stages = []
        for i in range(args.repeats):
            r = subprocess.run([sys.executable, "-c", PROFILE, str(A), str(B), str(Path(tmp) / f"p{i}"), args.model],
                               check=True, capture_output=True, text=True)
            stages.append(json.loads(r.stdout.strip().splitlines()[-1]))
    print("## nesinterp blend, 8 steps, WAVs and piano rolls, two bundled songs (cold start)\n")
    print(f"wall time of the whole command, {args.repeats} runs: median {statistics.median(walls):.2f} s "
          f"(min {min(walls):.2f}, max {max(walls):.2f})\n")
    print("| stage (median over runs) | seconds |")
    print("|---|---:|")
    for key in stages[0]:
        print(f"| {key} | {statistics.median(s[key] for s in stages):.3f} |")
    print("\n`model` = loading the model, choosing windows, encoding, interpolating and decoding; "
          "`write` = NES-MDB MIDI, WAV rendering and the piano-roll PNG of all files.")


if __name__ == "__main__":
    main()
