"""The MNIST downstream checks of a trained image run (../shared/docs/evaluation.md, section 2): a linear
probe and k-means clustering on its frozen latents, and a picture of its interpolations, written to
``eval/`` beside the run as report.json, interpolation_grid.png and summary.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import CheckpointError
from ..images import load_mnist
from ..interpolate import load_autoencoder
from ..metrics.mnist import (
    PROBE_BATCH, PROBE_EPOCHS, PROBE_LR, assign_clusters, clustering_accuracy, kmeans, linear_probe, whiten,
)

try:  # one error type for every `nesinterp eval`, owned by the music evaluator once it defines it
    from .music import EvalError
except ImportError:
    class EvalError(ValueError):
        """An evaluation that cannot run or would overwrite results; the message names the file, in one line."""

__all__ = ["EvalError", "OUTPUTS", "PAPER_PROBE_ACCURACY", "encode_images", "interpolation_grid", "evaluate_mnist"]

OUTPUTS = ("report.json", "interpolation_grid.png", "summary.md")
# The ACAI paper's single-layer classifier at d_z = 32 (../shared/docs/models.md).
PAPER_PROBE_ACCURACY = {"acai": 0.9825, "baseline_ae": 0.9490}
K = 10


@torch.no_grad()
def encode_images(autoencoder, images: np.ndarray, device="cpu", batch: int = 1000) -> np.ndarray:
    """Flat float32 codes (n, latent_dim) of images (n, 1, 32, 32), encoded ``batch`` at a time."""
    parts = [autoencoder.encode(torch.as_tensor(images[i:i + batch], device=device)).float().cpu()
             for i in range(0, len(images), batch)]
    return torch.cat(parts).numpy() if parts else np.zeros((0, autoencoder.latent_dim), np.float32)


@torch.no_grad()
def interpolation_grid(autoencoder, a: np.ndarray, b: np.ndarray, steps: int = 10, device="cpu",
                       scale: int = 2) -> np.ndarray:
    """A grey image in [0, 1]: one row per pair (a[i], b[i]): the real A, then ``steps`` images decoded on
    the straight line between the two codes (the first and last are A's and B's reconstructions), then
    the real B. Thin grey lines part the cells, wider ones the real inputs from the path."""
    xa, xb = (torch.as_tensor(v, device=device) for v in (a, b))
    za, zb = autoencoder.encode(xa), autoencoder.encode(xb)
    t = torch.linspace(0.0, 1.0, steps, device=za.device)[:, None, None]
    path = ((1 - t) * za[None] + t * zb[None]).reshape(steps * len(za), -1)  # step-major
    decoded = autoencoder.decode(path).float().cpu().numpy().reshape(steps, len(za), 32, 32)
    cells = np.concatenate([np.asarray(a)[None, :, 0], decoded, np.asarray(b)[None, :, 0]])  # (steps + 2, n, 32, 32)
    cells = (np.clip(cells, -1.0, 1.0) + 1.0) / 2.0
    thin, wide, line = 2, 8, 0.35
    widths = [wide if j in (0, steps) else thin for j in range(steps + 1)]  # gap after each column
    height = len(za) * 32 + (len(za) - 1) * thin
    width = (steps + 2) * 32 + sum(widths)
    grid = np.full((height, width), line)
    for i in range(len(za)):
        x = 0
        for j in range(steps + 2):
            grid[i * (32 + thin):i * (32 + thin) + 32, x:x + 32] = cells[j, i]
            x += 32 + (widths[j] if j < len(widths) else 0)
    return np.kron(grid, np.ones((scale, scale))) if scale > 1 else grid


def _pick_pairs(labels: np.ndarray, pairs: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``pairs`` (A, B) test indices, B of another digit than A where the set allows."""
    a_idx = rng.choice(len(labels), size=min(pairs, len(labels)), replace=False)
    out = []
    for a in a_idx:
        others = np.flatnonzero(labels != labels[a])
        pool = others if len(others) else np.flatnonzero(np.arange(len(labels)) != a)
        out.append((int(a), int(rng.choice(pool)) if len(pool) else int(a)))
    return out


def _summary(report: dict) -> str:
    probe, clus = report["probe"], report["clustering"]
    paper = PAPER_PROBE_ACCURACY
    return "\n".join([
        f"# MNIST checks: {report['config']} at step {report['step']}",
        "",
        f"Latent: {report['latent_dim']} dims (ACAI {'on' if report['acai'] else 'off'}, regularizer "
        f"{report['regularizer']}); {report['train_images']} training and {report['test_images']} test images.",
        "",
        "| check | test accuracy | train accuracy |",
        "|---|---|---|",
        f"| single-layer classifier (Adam {probe['lr']:g}, {probe['epochs']} epochs at batch {probe['batch']}) "
        f"| {100 * probe['test_accuracy']:.2f} % | {100 * probe['train_accuracy']:.2f} % |",
        f"| k-means, k = {clus['k']}, whitened latents, Hungarian matching "
        f"| {100 * clus['test_accuracy']:.2f} % | {100 * clus['train_accuracy']:.2f} % |",
        "",
        f"Paper (d_z = 32), single-layer classifier: ACAI {100 * paper['acai']:.2f} %, "
        f"baseline AE {100 * paper['baseline_ae']:.2f} %.",
        "",
        f"![interpolations](interpolation_grid.png): {report['interpolation_grid']['pairs']} test pairs, "
        f"{report['interpolation_grid']['steps']} steps on the straight line between their codes "
        "(real inputs at the sides).",
        "",
    ])


def evaluate_mnist(run_dir, data_dir=None, out_dir=None, device="cpu", seed: int = 0, force: bool = False,
                   limit: int | None = None, pairs: int = 8, steps: int = 10, batch: int = 1000,
                   probe_epochs: int = PROBE_EPOCHS) -> dict:
    """Score an MNIST run: encode the 60000 training and 10000 test images (the first ``limit`` of each
    when given), train the single-layer probe on the training codes and test it, fit k-means (k = 10)
    on the whitened training codes and score the test codes after Hungarian matching, and draw
    ``pairs`` test interpolations of ``steps`` steps.

    ``data_dir`` defaults to the run config's data.path; ``out_dir`` to ``run_dir/eval``. Writes
    report.json, interpolation_grid.png and summary.md there, each complete or not at all, and returns
    the report. Raises ``EvalError`` (one line, naming the file) for a run that is not an MNIST image
    model, missing data, or outputs that exist already and ``force`` is off.
    """
    run_dir = Path(run_dir)
    try:
        autoencoder, meta, cfg = load_autoencoder(run_dir, device, task="image")
    except CheckpointError as exc:
        raise EvalError(str(exc)) from None
    if cfg.data.kind != "mnist":
        raise EvalError(f"{run_dir}: a model trained on {cfg.data.kind}, not on MNIST")
    if limit is not None and limit < K:
        raise EvalError(f"limit must be at least {K} (one image per cluster), not {limit}")
    data_dir = Path(data_dir if data_dir is not None else cfg.data.path)
    out_dir = Path(out_dir) if out_dir is not None else (run_dir if run_dir.is_dir() else run_dir.parent) / "eval"
    targets = [out_dir / name for name in OUTPUTS]
    if not force:
        for path in targets:
            if path.exists():
                raise EvalError(f"{path}: exists already (pass force=True to overwrite)")

    try:
        train_x, train_y = load_mnist(data_dir, "train")
        test_x, test_y = load_mnist(data_dir, "test")
    except OSError as exc:
        raise EvalError(f"{exc} (give the MNIST folder as data_dir)") from None
    except ValueError as exc:  # IdxError: names the file
        raise EvalError(str(exc)) from None
    if limit is not None:
        train_x, train_y, test_x, test_y = train_x[:limit], train_y[:limit], test_x[:limit], test_y[:limit]

    train_z = encode_images(autoencoder, train_x, device, batch)
    test_z = encode_images(autoencoder, test_x, device, batch)
    probe = linear_probe(train_z, train_y, test_z, test_y, epochs=probe_epochs, seed=seed, device=device)
    white_train, white_test = whiten(train_z, test_z)
    centres, train_clusters, inertia = kmeans(white_train, K, seed=seed)
    test_clusters = assign_clusters(white_test, centres)

    chosen = _pick_pairs(test_y, pairs, np.random.default_rng(seed))
    a = test_x[[p[0] for p in chosen]]
    b = test_x[[p[1] for p in chosen]]
    grid = interpolation_grid(autoencoder, a, b, steps, device)

    report = {
        "run": str(run_dir),
        "config": cfg.name,
        "step": meta.get("step"),
        "latent_dim": autoencoder.latent_dim,
        "acai": cfg.acai.enabled,
        "regularizer": cfg.regularizer.kind,
        "data_dir": str(data_dir),
        "train_images": len(train_x),
        "test_images": len(test_x),
        "probe": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in probe.items()},
        "clustering": {
            "k": K,
            "test_accuracy": round(clustering_accuracy(test_clusters, test_y), 6),
            "train_accuracy": round(clustering_accuracy(train_clusters, train_y), 6),
            "inertia": round(inertia, 3),
            "whitened_dims": int(white_train.shape[1]),
        },
        "interpolation_grid": {"pairs": len(chosen), "steps": steps, "test_indices": [list(p) for p in chosen]},
        "paper_probe_accuracy_d_z_32": PAPER_PROBE_ACCURACY,
        "arguments": {"run_dir": str(run_dir), "data_dir": str(data_dir), "out_dir": str(out_dir),
                      "device": str(device), "seed": seed, "force": force, "limit": limit, "pairs": pairs,
                      "steps": steps, "batch": batch, "probe_epochs": probe_epochs,
                      "probe_batch": PROBE_BATCH, "probe_lr": PROBE_LR},
    }
    _write_outputs(out_dir, {"report.json": json.dumps(report, indent=2) + "\n",
                             "interpolation_grid.png": grid, "summary.md": _summary(report)})
    return report


def _write_outputs(out_dir: Path, contents: dict) -> None:
    """Each file written beside its final name, then renamed over it: none is ever seen half written."""
    from matplotlib.image import imsave

    out_dir.mkdir(parents=True, exist_ok=True)
    temps = {name: out_dir / f".{name}.tmp-{os.getpid()}" for name in contents}
    try:
        for name, value in contents.items():
            if isinstance(value, str):
                temps[name].write_text(value)
            else:
                imsave(temps[name], value, cmap="gray", vmin=0.0, vmax=1.0, format="png")
        for name, tmp in temps.items():
            os.replace(tmp, out_dir / name)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
