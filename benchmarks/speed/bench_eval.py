"""`nesinterp eval` speed at its defaults: the whole command from a cold start, as a user runs it.

    python benchmarks/speed/bench_eval.py [--model RUN_DIR] [--data data/nesmdb] [--repeats 3] [-- EXTRA EVAL OPTIONS]

Prepares data/nesmdb from ../shared/data when it is missing (about 4 s), then times
`nesinterp eval MODEL --data DATA -o TMP --quiet` (the bundled model by default) and reads how many
windows, songs and pairs it scored from report.json. Prints Markdown. The aim (issue "path scores"):
at most 60 s on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARCHIVE = ROOT.parent / "shared" / "data" / "nesmdb" / "nesmdb24_exprsco.tar.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "nesinterp" / "pretrained"))
    parser.add_argument("--data", default=str(ROOT / "data" / "nesmdb"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("extra", nargs="*", help="more eval options, after --")
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "nesinterp"
    if not Path(args.data).exists():
        if not ARCHIVE.exists():
            sys.exit(f"{args.data} is missing and so is {ARCHIVE} to prepare it from")
        subprocess.run([str(exe), "prep", str(ARCHIVE), "-o", args.data, "-q"], check=True)
    walls, report = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            out = Path(tmp) / f"eval{i}"
            cmd = [str(exe), "eval", args.model, "--data", args.data, "-o", str(out), "--quiet", *args.extra]
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            walls.append(time.perf_counter() - start)
            report = json.loads((out / "report.json").read_text())
    a = report["arguments"]
    print(f"## nesinterp eval, cold start, {os.cpu_count()} cores\n")
    print(f"`nesinterp eval {Path(args.model).name} --data {args.data} {' '.join(args.extra)}`: "
          f"{report['windows']} of {report['windows_in_split']} `{a['split']}` windows from {report['songs']} "
          f"songs, {a['pairs']} pairs of {a['steps']} steps, codes refined {a['refine_steps']} steps, "
          f"{a['bootstrap_replicates']} bootstrap replicates.\n")
    print(f"| wall time, {args.repeats} runs | median s | min | max |")
    print("|---|---:|---:|---:|")
    print(f"| whole command | {statistics.median(walls):.1f} | {min(walls):.1f} | {max(walls):.1f} |")


if __name__ == "__main__":
    main()
