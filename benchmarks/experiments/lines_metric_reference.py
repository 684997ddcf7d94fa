"""The lines metric on constructed interpolations, beside evaluation.md's reference values: a perfect
interpolation (evenly spaced angles), a pixel-space crossfade and an abrupt switch at the midpoint,
256 random pairs x 16 steps as in the benchmark. Prints a Markdown table.

    python benchmarks/experiments/lines_metric_reference.py [--mode official|area] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np

from nesinterp.images import lines_reference, render_lines
from nesinterp.metrics.lines import even_angles, lines_scores

PAIRS, STEPS = 256, 16


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="official", choices=["official", "area"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ref, ref_theta = lines_reference(mode=args.mode)
    theta = np.random.default_rng(args.seed).uniform(0, 2 * np.pi, 2 * PAIRS)
    a, b = theta[:PAIRS], theta[PAIRS:]
    ia, ib = render_lines(a, mode=args.mode)[:, None], render_lines(b, mode=args.mode)[:, None]
    t = np.linspace(0, 1, STEPS).reshape(1, STEPS, 1, 1, 1)
    cases = {
        "perfect interpolation (even angles)": (
            render_lines(even_angles(a, b, STEPS).ravel(), mode=args.mode).reshape(PAIRS, STEPS, 1, 32, 32),
            "~2e-7 / 2e-5"),
        "pixel crossfade": ((1 - t) * ia + t * ib, "7.2e-3 / 0.94"),
        "abrupt switch at the midpoint": (np.where(t < 0.5, ia, ib), "2.5e-7 / 0.93"),
    }
    print(f"Lines metric on constructed paths ({args.mode} renderer, seed {args.seed}, {PAIRS} pairs x {STEPS} steps)\n")
    print("| constructed path | Mean Distance | Smoothness | evaluation.md |\n|---|---|---|---|")
    for name, (images, expected) in cases.items():
        s = lines_scores(images, ref, ref_theta)
        print(f"| {name} | {s['mean_distance']:.2g} | {s['smoothness']:.4g} | {expected} |")


if __name__ == "__main__":
    main()
