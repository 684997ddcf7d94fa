"""Ways of walking and decoding a latent path, beside the one blends use, on the pairs ``nesinterp eval``
draws (same seed, same split): do any of them lower the monotonicity violations without a model change?
Prints one markdown table: violations per path, step smoothness, realism of the inner steps (against the
model's stored training-corpus reference) and what the endpoints keep of their songs (onset F1 +-1 and
sounding pitch, mean over voices). Tune on valid; the test split is for a final table only.

Variants (slerp between the model's refined codes unless named):
- ``model``: what ``interpolate`` does, the steps evenly spaced in t.
- ``unrefined``: the encoder's codes, not refined.
- ``even``: the steps spaced evenly in heard progress d_A / (d_A + d_B), chosen from a grid of 4 points
  per step (each step still decodes a point of the same path).
- ``shared``: each inner step's code refined (20 steps) towards the notes both songs share there.
- ``smooth S``: every step decoded from logits averaged over 8 codes drawn within S of it.

    python benchmarks/experiments/bench_path_variants.py [--model RUN] [--data data/nesmdb] [--split valid] [--pairs 256]
"""

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from data_prep.dataset import Dataset
from nesinterp import TrainedModel
from nesinterp.evaluate.music import held_out_windows, interpolation_pairs
from nesinterp.trained_model import slerp
from nesinterp.metrics.music import monotonicity_violations, reconstruction_scores, step_smoothness
from nesinterp.metrics.realism import RealismReference, realism
from nesinterp.refine import REFINE_LR

GRID_PER_STEP = 4
SHARED_STEPS = 20
SMOOTH_DRAWS = 8


def slerp_paths(za: torch.Tensor, zb: torch.Tensor, points: int) -> torch.Tensor:
    """Codes (points, pairs, d) evenly spaced in t on each pair's great circle."""
    t = torch.linspace(0.0, 1.0, points)
    return torch.stack([slerp(za[i], zb[i], t) for i in range(len(za))], dim=1)


def decode(model: TrainedModel, codes: torch.Tensor) -> np.ndarray:
    """uint8 windows (points, pairs, T, 4, 3) of codes (points, pairs, d)."""
    points, pairs = codes.shape[:2]
    return model.decode_windows(codes.reshape(points * pairs, -1)).reshape(points, pairs, model.window, 4, 3)


def evenly_heard(model: TrainedModel, za: torch.Tensor, zb: torch.Tensor, steps: int) -> np.ndarray:
    """Steps chosen from a fine grid of the path so that d_A / (d_A + d_B) rises by 1 / (steps - 1) each
    step (the nearest grid point at or after the step before)."""
    points = GRID_PER_STEP * (steps - 1) + 1
    grid = decode(model, slerp_paths(za, zb, points))
    notes = grid[..., 0]
    d_a = (notes != notes[:1]).mean(axis=(2, 3))
    d_b = (notes != notes[-1:]).mean(axis=(2, 3))
    progress = np.where(d_a + d_b > 0, d_a / np.maximum(d_a + d_b, 1e-12), 0.0)
    index = np.zeros((steps, notes.shape[1]), np.int64)
    index[-1] = points - 1
    for j in range(notes.shape[1]):
        for k in range(1, steps - 1):
            candidates = np.arange(index[k - 1, j], points)
            index[k, j] = candidates[np.argmin(np.abs(progress[candidates, j] - k / (steps - 1)))]
    return grid[index, np.arange(notes.shape[1])[None]]


def shared_refined(model: TrainedModel, za, zb, a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """The inner steps' codes refined towards the notes the two songs share (cross-entropy at the cells
    where their notes are equal, silence included), the endpoints as they are."""
    rep = model.representation
    codes = slerp_paths(za, zb, steps)
    notes_a = rep.targets(torch.as_tensor(a))["notes"]
    shared = (notes_a == rep.targets(torch.as_tensor(b))["notes"]).float()  # (pairs, 4, T)
    inner = codes[1:-1].reshape(-1, codes.shape[-1]).clone().requires_grad_(True)
    target, mask = notes_a.repeat(steps - 2, 1, 1), shared.repeat(steps - 2, 1, 1)
    opt = torch.optim.Adam([inner], lr=REFINE_LR)
    for _ in range(SHARED_STEPS):
        heads = rep.split_logits(model.autoencoder.decode(inner).float())
        loss = sum((F.cross_entropy(heads["notes"][v], target[:, v], reduction="none") * mask[:, v]).mean(dim=1)
                   for v in range(4)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    codes[1:-1] = inner.detach().reshape(steps - 2, len(za), -1)
    return decode(model, codes)


@torch.no_grad()
def smoothed(model: TrainedModel, za, zb, steps: int, radius: float, seed: int) -> np.ndarray:
    """Each step decoded from the decoder's logits averaged over codes drawn around it (std ``radius``)."""
    codes = slerp_paths(za, zb, steps).reshape(steps * len(za), -1)
    gen = torch.Generator().manual_seed(seed)
    logits = sum(model.autoencoder.decode(codes + radius * torch.randn(codes.shape, generator=gen)).float()
                 for _ in range(SMOOTH_DRAWS)) / SMOOTH_DRAWS
    return model.representation.decode(logits).reshape(steps, len(za), model.window, 4, 3)


def row(name: str, stack: np.ndarray, truth: np.ndarray, reference: RealismReference, seconds: float) -> str:
    paths = [list(stack[:, j]) for j in range(stack.shape[1])]
    violations = np.mean([monotonicity_violations(p) for p in paths])
    smooth = np.nanmean([step_smoothness(p) for p in paths])
    inner = realism(stack[1:-1].reshape(-1, *stack.shape[2:]), reference)["score"]
    ends = reconstruction_scores(np.concatenate([stack[0], stack[-1]]), truth)["mean"]
    return (f"| {name} | {violations:.3f} | {smooth:.3f} | {inner:.3f} | {ends['onset_f1_tol1']:.3f} | "
            f"{ends['pitch_accuracy_sounding']:.3f} | {seconds:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="run directory or model files (default: the bundled model)")
    parser.add_argument("--data", default="data/nesmdb")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--smooth", type=float, nargs="*", default=[0.1, 0.2])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = TrainedModel.load(args.model)
    reference = model.realism_reference()
    windows, owner = held_out_windows(Dataset(args.data).split(args.split), model.window)
    if reference is None:  # a model saved without one: the held-out windows themselves
        reference = RealismReference.from_windows(windows)
    a_idx, b_idx = interpolation_pairs(owner, args.pairs, np.random.default_rng(args.seed))
    a, b = windows[a_idx], windows[b_idx]
    truth = np.concatenate([a, b])
    print(f"{args.split}: {args.pairs} pairs, {args.steps} steps; model {model.source} (codes refined "
          f"{model.refine_steps} steps of {model.refine_lr}), {torch.get_num_threads()} threads\n")
    print("| path | violations per path | step smoothness | realism, inner steps | endpoints' onset F1 +-1 "
          "| endpoints' sounding pitch | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    start = time.perf_counter()
    za, zb = model.encode(a), model.encode(b)
    print(row("model (slerp, even in t)", decode(model, slerp_paths(za, zb, args.steps)), truth, reference,
              time.perf_counter() - start), flush=True)
    variants = [("unrefined codes", lambda: decode(model, slerp_paths(model.encode(a, refine=0),
                                                                      model.encode(b, refine=0), args.steps))),
                (f"even in heard progress ({GRID_PER_STEP} grid points a step)",
                 lambda: evenly_heard(model, za, zb, args.steps)),
                (f"inner codes refined to the shared notes ({SHARED_STEPS} steps)",
                 lambda: shared_refined(model, za, zb, a, b, args.steps))]
    variants += [(f"logits averaged within {r} ({SMOOTH_DRAWS} draws)",
                  lambda r=r: smoothed(model, za, zb, args.steps, r, args.seed)) for r in args.smooth]
    for name, make in variants:
        begin = time.perf_counter()
        print(row(name, make(), truth, reference, time.perf_counter() - begin), flush=True)
    print("\nseconds: each row's own work; the rows after the first reuse its refined codes (the unrefined "
          "row encodes anew).")


if __name__ == "__main__":
    main()
