"""Code refinement (nesinterp.refine) against its cost: for each number of refinement steps, a model's
reconstructions of every window of a dataset split and its interpolations between windows of different
songs, with the onset thresholds and sounding biases chosen for that step count on the same windows (as
``nesinterp calibrate --refine N`` does on the valid split). Prints one markdown table: onset F1
(+-1 frame), pitch accuracy on sounding frames, onsets predicted / true, realism of the reconstructions
and of the inner interpolation steps, monotonicity violations per path, and the refinement's seconds per
window on this machine. Tune on valid; the test split is for a final table only.

    python benchmarks/experiments/bench_refine.py [--data data/nesmdb] [--split valid] [--model RUN] [--steps 0,10,20]
"""

import argparse
import time

import numpy as np
import torch

from data_prep.dataset import Dataset
from nesinterp import TrainedModel
from nesinterp.articulation import calibrated
from nesinterp.evaluate.music import (
    CORPUS_WINDOWS, corpus_realism_reference, held_out_windows, interpolation_pairs,
)
from nesinterp.metrics.music import monotonicity_violations, reconstruction_scores
from nesinterp.metrics.realism import realism

VOICES = ("P1", "P2", "TR", "NO")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/nesmdb")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--model", default=None, help="run directory or model files (default: the bundled model)")
    parser.add_argument("--steps", default="0,10,20", help="refinement step counts, comma-separated")
    parser.add_argument("--pairs", type=int, default=64, help="interpolations between windows of different songs")
    parser.add_argument("--windows", type=int, default=None, help="only the split's first N windows (a quick look)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = TrainedModel.load(args.model)
    dataset = Dataset(args.data)
    windows, owner = held_out_windows(dataset.split(args.split), model.window, args.windows)
    reference = corpus_realism_reference(dataset.split("train"), model.window, CORPUS_WINDOWS)
    a_idx, b_idx = interpolation_pairs(owner, args.pairs, np.random.default_rng(args.seed))
    base = model.representation
    print(f"{args.split}: {len(windows)} windows, {args.pairs} interpolations of 8 steps (slerp); "
          f"model {model.source}, {torch.get_num_threads()} threads\n")
    print("| refinement steps | onset F1 (+-1) P1 / P2 / TR / NO | pitch accuracy (sounding) P1 / P2 / TR / NO "
          "| onsets predicted / true | realism | mid-path realism | violations per path | s per window |")
    print("|---:|---|---|---|---:|---:|---:|---:|")
    for steps in (int(s) for s in args.steps.split(",")):
        start = time.perf_counter()
        model.representation, model.expression_codes = base, False  # one code per window, as measured before
        logits = model.window_logits(windows, refine=steps)
        seconds = (time.perf_counter() - start) / len(windows)
        rep = calibrated(base, logits, windows)
        recon = rep.decode(logits)
        scores = reconstruction_scores(recon, windows)
        model.representation = rep
        path = model.interpolate(windows[a_idx], windows[b_idx], 8, refine=steps)  # (8, pairs, T, 4, 3)
        model.representation = base
        violations = np.mean([monotonicity_violations(list(path[:, j])) for j in range(args.pairs)])
        mid = realism(path[1:-1].reshape(-1, *path.shape[2:]), reference)["score"]
        cell = lambda key, digits=3: " / ".join(f"{scores[v][key]:.{digits}f}" for v in VOICES)  # noqa: E731
        print(f"| {steps} | {cell('onset_f1_tol1')} | {cell('pitch_accuracy_sounding')} | {cell('onset_ratio', 2)} "
              f"| {realism(recon, reference)['score']:.3f} | {mid:.3f} | {violations:.2f} | {seconds:.3f} |", flush=True)


if __name__ == "__main__":
    main()
