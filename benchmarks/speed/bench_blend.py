"""`nesinterp blend` speed: the whole command from a cold start (a fresh interpreter each time, as a
user runs it), and where the time goes inside one run.

    python benchmarks/speed/bench_blend.py [--model RUN_DIR] [--repeats 5] [--steps 8]

Blends the two bundled example songs, WAVs and piano rolls included, with and without the page
(index.html and its pictures; runs interleaved, so both see the same machine). Prints Markdown.
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

ROOT = Path(__file__).resolve().parents[2]
A = ROOT / "nesinterp" / "examples" / "overworld.mid"
B = ROOT / "nesinterp" / "examples" / "dungeon.mid"

PROFILE = r"""
import sys, time, json
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
from nesinterp.cli import main
from nesinterp.blending import blend_files, BlendOptions
t2 = time.perf_counter()
result = blend_files(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] or None, BlendOptions(steps=int(sys.argv[5])))
t3 = time.perf_counter()
stages = {"import torch": t1 - t0, "import nesinterp": t2 - t1, **result.record["timings_s"]}
stages["blend_files total"] = t3 - t2
print(json.dumps(stages))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="run dir or model file (default: the bundled model)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "nesinterp"
    walls = {"with index.html": [], "--no-html": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for label, extra in (("with index.html", []), ("--no-html", ["--no-html"])):
                out = Path(tmp) / f"out{i}{len(extra)}"
                cmd = [str(exe), "blend", str(A), str(B), "--steps", str(args.steps), "-o", str(out), *extra]
                cmd += ["--model", args.model] if args.model else []
                start = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                walls[label].append(time.perf_counter() - start)
        stages = []
        for i in range(args.repeats):
            r = subprocess.run([sys.executable, "-c", PROFILE, str(A), str(B), str(Path(tmp) / f"p{i}"), args.model,
                                str(args.steps)], check=True, capture_output=True, text=True)
            stages.append(json.loads(r.stdout.strip().splitlines()[-1]))
    print(f"## nesinterp blend, {args.steps} steps, WAVs and piano rolls, two bundled songs (cold start)\n")
    print(f"| wall time of the whole command, {args.repeats} runs | median s | min | max |")
    print("|---|---:|---:|---:|")
    for label, values in walls.items():
        print(f"| {label} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |")
    print("\n| stage, with the page (median over runs) | seconds |")
    print("|---|---:|")
    for key in stages[0]:
        print(f"| {key} | {statistics.median(s[key] for s in stages):.3f} |")
    print("\n`model` = loading the model, choosing windows, encoding, interpolating and decoding; `score` = "
          "the scores of every step and input; `write` = NES-MDB MIDI, WAV rendering, the piano-roll PNG and the "
          "page; `page` = the part of `write` spent on index.html and its pictures.")


if __name__ == "__main__":
    main()
