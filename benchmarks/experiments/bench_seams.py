"""Window seams: the bundled model's reconstructions of every song of a prepared dataset split, cut into
windows that are encoded and decoded one by one (``encode`` / ``decode_windows``: each window padded with
silence) against the whole song encoded and decoded as one sequence (``encode_joined`` /
``decode_joined``, what ``reconstruct`` and ``blend --whole`` do with a fully convolutional model). Prints
onset F1 (+-1 frame) over all frames and within 4 frames of a window boundary, and how often a voice's
note changes across a boundary.

    python benchmarks/experiments/bench_seams.py [--data data/nesmdb] [--split valid] [--model RUN]
"""

import argparse
import time

import numpy as np

from data_prep.dataset import Dataset
from nesinterp import TrainedModel
from nesinterp.windows import score_windows
from nesinterp.metrics.music import onset_matches

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", default="data/nesmdb")
parser.add_argument("--split", default="valid")
parser.add_argument("--model", default=None)
args = parser.parse_args()
m = TrainedModel.load(args.model)
split = Dataset(args.data).split(args.split)
W = m.window
acc = {k: [np.zeros(4), np.zeros(4), np.zeros(4)] for k in ("windowed", "joined")}
edge = {k: [np.zeros(4), np.zeros(4), np.zeros(4)] for k in ("windowed", "joined")}
jump = {"windowed": [], "joined": [], "real": []}
t0 = time.time()
for i in range(len(split)):
    s = split.score(i)
    w = score_windows(s, W)
    if len(w) < 2: continue
    real = w.reshape(-1, 4, 3)
    outs = {"windowed": m.decode_windows(m.encode(w)).reshape(-1, 4, 3),
            "joined": m.decode_joined(m.encode_joined(w)).reshape(-1, 4, 3)}
    near = np.zeros(len(real), bool)
    for b in range(W, len(real), W):
        near[max(0, b - 4): b + 4] = True
    for k, o in outs.items():
        for store, sel in ((acc, slice(None)), (edge, near)):
            tp, n_p, n_t = onset_matches(o[sel][None], real[sel][None], 1)
            store[k][0] += tp; store[k][1] += n_p; store[k][2] += n_t
        # change across boundaries: fraction of cells whose note differs between frame b-1 and b
        jump[k].append(np.mean([(o[b - 1, :, 0] != o[b, :, 0]).mean() for b in range(W, len(real), W)]))
    jump["real"].append(np.mean([(real[b - 1, :, 0] != real[b, :, 0]).mean() for b in range(W, len(real), W)]))
print(f"{args.split} split of {args.data}, {len(jump['real'])} songs of two windows or more, {time.time() - t0:.0f} s\n")
print("| frames | decoding | onset F1 +-1 P1 / P2 / TR / NO | onsets predicted / true |")
print("|---|---|---|---|")
for name, store in (("all", acc), ("within 4 of a window boundary", edge)):
    for k in ("windowed", "joined"):
        tp, n_p, n_t = store[k]
        f1 = " / ".join(f"{x:.3f}" for x in 2 * tp / (n_p + n_t))
        ratio = " / ".join(f"{x:.2f}" for x in n_p / n_t)
        print(f"| {name} | {k} | {f1} | {ratio} |")
print("\nnote changes across a window boundary (share of voices): real %.3f, windowed %.3f, joined %.3f"
      % tuple(np.mean(jump[k]) for k in ("real", "windowed", "joined")))
