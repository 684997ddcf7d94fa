"""Attribute vectors of a music model (``nesinterp.attributes``), and how well shifting along them works.

The vectors come from ``--windows`` train windows (evenly spread, ``corpus_windows``), the model's own
refined codes; ``--write`` saves them as attributes.json beside the model's model.json. Then
``--valid-windows`` valid windows (evenly spread among those where P1, P2 or TR starts a note) are
shifted along each vector by amounts linspace(-x, +x, --steps) (x = ``--amount``), decoded, and every
attribute is measured on the decoded windows. Per attribute it prints:

- rho: the mean over windows of Spearman(amount, attribute), with a 95 % bootstrap interval over windows
  (1000 replicates); windows where the attribute is constant over the sweep or undefined (NaN) at some
  amount are left out of it (their count is shown), and "rho, constant as 0" counts the constant ones
  as 0 (the shift did not move them);
- others: the mean over windows of the mean |Spearman(amount, b)| over the other attributes b (a
  constant b counts as 0, an undefined one is left out; density and its parts density_p1/p2/tr are not
  each other's "others"), with its interval;
- the attribute's mean at -x, at 0 (the reconstruction) and at +x beside the real windows';
- the attribute's mean at each amount;
- move / gap: (mean at +x - mean at -x) over the vector's top-minus-bottom-quarter gap of the attribute
  (its train windows'); others' abs move / gap: the same, in absolute value, averaged over the others;
- realism: the mean typicality (``metrics.realism.typicality``) of the windows shifted by -x and +x,
  over the model's realism reference's own (its train windows'); the real valid windows' and the
  reconstructions' are printed above the table.

Volumes and timbres are decoded from the windows' expression codes shifted by the same vector, as
``nesinterp shift`` (``TrainedModel.shift``) does; ``--notes-only`` decodes them from the shifted note
codes instead (``decode_paths(codes, None)``), which plays every version quieter than the song.
``--reuse`` sweeps the model's saved attributes.json instead of computing vectors (seconds, not minutes).
Cost: coding the train windows (``TrainedModel.codes``, 40 refinement steps for the bundled model, of
both codes) is nearly all of it: about 36 s per 256 windows on one thread.

    python benchmarks/experiments/attribute_sweeps.py [--write] [--data data/nesmdb] [--model RUN] [--windows 2048]
"""

import argparse
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from data_prep.dataset import Dataset
from nesinterp import TrainedModel
from nesinterp.attributes import (
    ALIASES, NAMES, attribute_vectors_from_codes, attributes_path, measure_attributes, shift_codes, vectors_for,
)
from nesinterp.evaluate.music import corpus_windows, evenly_spaced
from nesinterp.metrics.music import onsets
from nesinterp.metrics.realism import typicality

REPLICATES = 1000


def related(a: str, b: str) -> bool:
    """An alias and its parts move together by construction: not each other's "others"."""
    return any((a == alias and b in parts) or (b == alias and a in parts) for alias, parts in ALIASES.items())


def spearman(x: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spearman's rho of ``x`` (k,) with each column of ``values`` (k, n) (average ranks for ties):
    (rho (n,) NaN where a column is constant or holds NaN, constant (n,) bool)."""
    from scipy.stats import rankdata

    nan = np.isnan(values).any(axis=0)
    constant = ~nan & (np.nanmax(values, axis=0) == np.nanmin(values, axis=0))
    rx = rankdata(x) - (len(x) + 1) / 2
    rv = rankdata(np.nan_to_num(values), axis=0) - (len(x) + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx[:, None] * rv).sum(axis=0) / np.sqrt((rx ** 2).sum() * (rv ** 2).sum(axis=0))
    return np.where(nan | constant, np.nan, rho), constant


def mean_ci(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    """Mean of the finite values and its 95 % bootstrap interval over them."""
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return np.nan, np.nan, np.nan
    reps = v[rng.integers(0, len(v), (REPLICATES, len(v)))].mean(axis=1)
    return float(v.mean()), *np.percentile(reps, [2.5, 97.5])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/nesmdb")
    parser.add_argument("--model", default=None, help="run dir or model folder (default: the bundled model)")
    parser.add_argument("--windows", type=int, default=2048, help="train windows the vectors come from")
    parser.add_argument("--valid-windows", type=int, default=128)
    parser.add_argument("--amount", type=float, default=1.5, help="x: amounts run from -x to +x")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="of the bootstrap")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="save attributes.json beside the model's model.json")
    parser.add_argument("--reuse", action="store_true", help="sweep the vectors of the model's attributes.json")
    parser.add_argument("--method", choices=("quarters", "joint"), default="quarters",
                        help="quarters: top minus bottom quarter's mean code; joint: each attribute's own "
                             "direction with the others held still (codes regressed on all of them)")
    parser.add_argument("--codes-cache", default=None, help="a .npy file to keep the train windows' codes in")
    parser.add_argument("--notes-only", action="store_true",
                        help="decode volumes and timbres from the shifted note codes, not expression codes")
    args = parser.parse_args()
    print("command: python " + " ".join(shlex.quote(a) for a in sys.argv), flush=True)
    torch.set_num_threads(args.threads)
    model = TrainedModel.load(args.model)
    dataset = Dataset(args.data)
    t0 = time.time()
    vectors = vectors_for(model) if args.reuse else compute(model, dataset, args)
    if vectors is None:
        sys.exit(f"{attributes_path(model.source)}: no such file (run without --reuse)")
    sweep(model, dataset, vectors, args)
    print(f"\ntotal {time.time() - t0:.0f} s on {args.threads} thread(s)")


def compute(model, dataset, args):
    """The vectors from train windows, with their split-half stability and cosines printed."""
    t0, W = time.time(), model.window
    train = corpus_windows(dataset.split("train"), W, args.windows)
    cache = Path(args.codes_cache) if args.codes_cache else None
    if cache is not None and cache.exists():
        codes = torch.from_numpy(np.load(cache))
        print(f"  train codes from {cache}", flush=True)
    else:
        codes = []
        for i in range(0, len(train), 256):
            codes.append(model.codes(train[i:i + 256])[0].float())
            print(f"  train codes {min(i + 256, len(train))}/{len(train)}: {time.time() - t0:.0f} s", flush=True)
        codes = torch.cat(codes)
        if cache is not None:
            np.save(cache, codes.numpy())
    measured = measure_attributes(train)
    vectors = attribute_vectors_from_codes(codes, measured, args.method)
    # split-half stability: the vectors of the even and the odd windows, and the cosine between them
    halves = [attribute_vectors_from_codes(codes[h::2], {k: v[h::2] for k, v in measured.items()}, args.method)
              for h in (0, 1)]
    t_vectors = time.time() - t0
    print(f"vectors from {len(train)} train windows: {t_vectors:.0f} s ({t_vectors / len(train) * 256:.1f} s per 256)")
    if args.write:
        print(f"wrote {vectors.save(attributes_path(model.source).parent)}")
    print("\n| attribute | bottom quarter | top quarter | vector norm | split-half cosine |\n|---|---|---|---|---|")
    for name in NAMES:
        s, (a, b) = vectors.stats[name], (h.vectors[name] for h in halves)
        cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        print(f"| {name} | {s['bottom_mean']:.2f} | {s['top_mean']:.2f} | {s['norm']:.2f} | {cos:.2f} |")
    unit = {k: v / np.linalg.norm(v) for k, v in vectors.vectors.items()}
    print("\ncosine between the vectors:\n\n| | " + " | ".join(NAMES) + " |\n" + "|---" * (len(NAMES) + 1) + "|")
    for row in NAMES:
        print(f"| {row} | " + " | ".join(f"{unit[row] @ unit[col]:.2f}" for col in NAMES) + " |")
    return vectors


def sweep(model, dataset, vectors, args) -> None:
    """Valid windows shifted along every vector, and the table."""
    t1, W, rng = time.time(), model.window, np.random.default_rng(args.seed)
    valid = corpus_windows(dataset.split("valid"), W, None)
    valid = valid[onsets(valid)[..., :3].any(axis=(1, 2))]
    valid = valid[evenly_spaced(len(valid), args.valid_windows)]
    z, e = model.codes(valid)
    e = None if args.notes_only else e
    reference = model.realism_reference()
    real = measure_attributes(valid)
    amounts = np.linspace(-args.amount, args.amount, args.steps)
    ends = [0, len(amounts) - 1]
    real_typ = typicality(valid, reference)[0].mean() / reference.typicality
    print(f"\nvalid windows: {len(valid)} (with notes), codes {time.time() - t1:.0f} s; realism reference: "
          f"{reference.windows} train windows, typicality {reference.typicality:.3f}; real valid windows' "
          f"typicality / reference {real_typ:.2f}")
    rows, recon_typ = [], None
    gap = {k: vectors.stats[k]["top_mean"] - vectors.stats[k]["bottom_mean"] for k in NAMES}
    for name in NAMES:
        vec = vectors.vector(name)
        out = model.decode_paths(shift_codes(z, vec, amounts), None if e is None else shift_codes(e, vec, amounts),
                                 joined=False)  # (k, n, W, 4, 3)
        after = measure_attributes(out)
        moves = {k: (np.nanmean(after[k][-1]) - np.nanmean(after[k][0])) / gap[k] for k in NAMES}
        rho, constant = spearman(amounts, after[name])
        nan = np.isnan(after[name]).any(axis=0)
        others = []
        other_names = [b for b in NAMES if b != name and not related(name, b)]
        for b in other_names:
            r, c = spearman(amounts, after[b])
            others.append(np.where(c, 0.0, np.abs(r)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a window where no other attribute is defined
            others = np.nanmean(np.stack(others), axis=0)
        values = [np.nanmean(after[name][i]) for i in (0, len(amounts) // 2, -1)]
        typ = typicality(out[ends].reshape(-1, W, 4, 3), reference)[0].mean() / reference.typicality
        if recon_typ is None and len(amounts) % 2:
            recon_typ = typicality(out[len(amounts) // 2], reference)[0].mean() / reference.typicality
        rows.append((name, mean_ci(rho, rng), int(np.isfinite(rho).sum()), int(constant.sum()), int(nan.sum()),
                     float(np.nanmean(np.where(constant, 0.0, rho))), mean_ci(others, rng), values,
                     float(np.nanmean(real[name])), typ, moves[name], np.mean([abs(moves[b]) for b in other_names]),
                     " / ".join(f"{np.nanmean(v):.2f}" for v in after[name])))
        print(f"  {name}: {time.time() - t1:.0f} s", flush=True)
    x = f"{args.amount:g}"
    if recon_typ is not None:
        print(f"reconstructions' (amount 0) typicality / reference {recon_typ:.2f}")
    print(f"\n| attribute | rho(amount, attribute) [95 %] | windows (constant, NaN left out) | rho, constant as 0 "
          f"| others' mean abs rho [95 %] | at -{x} | real | at 0 | at +{x} | move / gap | others' abs move / gap "
          f"| realism at +-{x} / reference | mean at each amount |")
    print("|---" * 13 + "|")
    for name, (r, lo, hi), used, const, nan, r0, (o, olo, ohi), (vm, v0, vp), vr, typ, move, others, curve in rows:
        print(f"| {name} | {r:.2f} [{lo:.2f}, {hi:.2f}] | {used} ({const}, {nan}) | {r0:.2f} | "
              f"{o:.2f} [{olo:.2f}, {ohi:.2f}] | {vm:.2f} | {vr:.2f} | {v0:.2f} | {vp:.2f} | {move:.2f} | "
              f"{others:.2f} | {typ:.2f} | {curve} |")


if __name__ == "__main__":
    main()
