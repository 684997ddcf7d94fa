"""Where a model's interpolations break monotonicity: for the pairs ``nesinterp eval`` draws (same seed,
same split), every step k -> k+1 at which the distance to A falls or the distance to B rises, how many
(frame, voice) cells such a step moves, and what those cells are: per voice, whether the endpoints agree
there (both silent, the same note) or differ, and whether the step turns a silent cell into a note or
changes a note. Prints markdown tables; tune on valid, the test split is for a final table only.

    python benchmarks/experiments/bench_violations.py [--model RUN] [--data data/nesmdb] [--split valid] [--pairs 256]
        [--mode slerp|lerp] [--refine N]
"""

import argparse
from collections import Counter

import numpy as np
import torch

from data_prep.dataset import Dataset
from nesinterp import TrainedModel
from nesinterp.evaluate.music import held_out_windows, interpolation_pairs
from nesinterp.metrics.music import endpoint_curves

VOICES = ("P1", "P2", "TR", "NO")


def violating_cells(notes: np.ndarray) -> tuple[np.ndarray, np.ndarray, Counter]:
    """For note paths (steps, pairs, T, 4): per transition, the paths whose d_A falls and whose d_B rises
    (steps - 1, 2), the sizes in cells of those violations, and a Counter of the cells that made them
    (cells that came back to A where d_A fell, cells that left B where d_B rose), keyed by
    (voice, endpoints: "both silent" | "same note" | "differ", change: "silence -> note" | ...)."""
    steps, pairs = notes.shape[:2]
    a, b = notes[0], notes[-1]
    counts = np.zeros((steps - 1, 2), np.int64)
    sizes, kinds = [], Counter()
    agree = np.where(a == b, np.where(a == 0, "both silent", "same note"), "differ")
    for j in range(pairs):
        d_a, d_b = endpoint_curves(list(notes[:, j]))
        for k in range(steps - 1):
            x, y = notes[k, j], notes[k + 1, j]
            for side, curve, broke, cells in ((0, d_a, d_a[k + 1] < d_a[k], (x != a[j]) & (y == a[j])),
                                              (1, d_b, d_b[k + 1] > d_b[k], (x == b[j]) & (y != b[j]))):
                if not broke:
                    continue
                counts[k, side] += 1
                sizes.append(abs(curve[k + 1] - curve[k]) * x.size)
                for t, v in zip(*np.nonzero(cells)):
                    before, after = x[t, v], y[t, v]
                    change = ("silence -> note" if before == 0 else "note -> silence" if after == 0
                              else "note -> other note")
                    kinds[(VOICES[v], str(agree[j, t, v]), change)] += 1
    return counts, np.array(sizes), kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="run directory or model files (default: the bundled model)")
    parser.add_argument("--data", default="data/nesmdb")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--mode", choices=("slerp", "lerp"), default="slerp")
    parser.add_argument("--refine", type=int, default=None, help="refinement steps (default: the model's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = TrainedModel.load(args.model)
    windows, owner = held_out_windows(Dataset(args.data).split(args.split), model.window)
    a_idx, b_idx = interpolation_pairs(owner, args.pairs, np.random.default_rng(args.seed))
    path = model.interpolate(windows[a_idx], windows[b_idx], args.steps, args.mode, refine=args.refine)
    notes = path[..., 0]
    counts, sizes, kinds = violating_cells(notes)
    # the same paths with every cell the two endpoints share kept at its shared value
    shared = notes[0] == notes[-1]
    kept = violating_cells(np.where(shared[None], notes[0][None], notes))[0].sum() / args.pairs
    refine = model.refine_steps if args.refine is None else args.refine
    print(f"{args.split}: {args.pairs} pairs, {args.steps} steps ({args.mode}, codes refined {refine} steps); model "
          f"{model.source}, {torch.get_num_threads()} threads\n")
    per_path = counts.sum() / args.pairs
    print(f"violations per path {per_path:.3f}; median size {np.median(sizes) if len(sizes) else 0:.0f} cells of "
          f"{model.window * 4} (a quarter of them at most {np.percentile(sizes, 25) if len(sizes) else 0:.0f}); "
          f"{kept:.3f} if the cells both endpoints share kept their shared value\n")
    print("| step | " + " | ".join(f"{k}->{k + 1}" for k in range(args.steps - 1)) + " |")
    print("|---|" + "---:|" * (args.steps - 1))
    print("| d_A falls | " + " | ".join(str(c) for c in counts[:, 0]) + " |")
    print("| d_B rises | " + " | ".join(str(c) for c in counts[:, 1]) + " |\n")
    total = max(sum(kinds.values()), 1)
    print("| voice | endpoints there | the step | share of the cells |")
    print("|---|---|---|---:|")
    for (voice, agree, change), n in kinds.most_common(10):
        print(f"| {voice} | {agree} | {change} | {n / total:.2f} |")


if __name__ == "__main__":
    main()
