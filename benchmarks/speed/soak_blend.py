"""Soak: many blends in a row in one process must keep memory flat (no growth from caches, figures,
tensors or file handles left behind). Prints resident memory every N blends and the growth.

    python benchmarks/speed/soak_blend.py [--blends 200] [--every 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from nesinterp.blending import BlendOptions, blend_files
from nesinterp.trained_model import TrainedModel


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blends", type=int, default=200)
    parser.add_argument("--every", type=int, default=20)
    args = parser.parse_args()
    a = ROOT / "nesinterp" / "examples" / "overworld.mid"
    b = ROOT / "nesinterp" / "examples" / "dungeon.mid"
    model = TrainedModel.load()
    rows = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(1, args.blends + 1):
            # alternate directions, modes, sampling and windows so every code path is exercised
            options = BlendOptions(steps=8, mode="slerp" if i % 2 else "lerp", temperature=0.0 if i % 3 else 1.0,
                                   seed=i, start_a=float(i % 10), force=True)
            blend_files(str(a if i % 2 else b), str(b if i % 2 else a), Path(tmp) / "out", model, options)
            if i == 1 or i % args.every == 0:
                rows.append((i, rss_mb(), time.perf_counter() - start))
    print(f"## {args.blends} blends in one process (8 steps, WAVs, piano rolls; bundled model)\n")
    print("| blends done | resident memory | elapsed |")
    print("|---:|---:|---:|")
    for i, mb, s in rows:
        print(f"| {i} | {mb:.0f} MB | {s:.0f} s |")
    after_first = rows[1][1] if len(rows) > 1 else rows[0][1]
    print(f"\ngrowth from blend {rows[1][0] if len(rows) > 1 else 1} to {rows[-1][0]}: {rows[-1][1] - after_first:+.1f} MB")


if __name__ == "__main__":
    main()
