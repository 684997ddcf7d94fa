"""The MNIST downstream checks of a trained image run (docs/scores.md, section 2): a linear
probe and k-means clustering on its frozen latents, and a picture of its interpolations, written to
``eval/`` beside the run as report.json, summary.md and interpolation_grid.png.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..checkpoint import CheckpointError
from ..images import load_mnist
from ..checkpoint import load_autoencoder
from ..metrics.mnist import (
    PROBE_BATCH, PROBE_EPOCHS, PROBE_LR, assign_clusters, clustering_accuracy, kmeans, linear_probe, whiten,
)
from ..jsonio import plain
from .report import (
    EvalError, check_writable, json_writer, report_dir, text_writer, write_image_grid, write_report_files,
)

__all__ = ["EvalError", "PAPER_PROBE_ACCURACY", "REPORT_FILES", "encode_images", "evaluate_mnist",
           "interpolation_paths"]

REPORT_FILES = ("report.json", "summary.md", "interpolation_grid.png")
# The ACAI paper's single-layer classifier at d_z = 32 (docs/models.md).
PAPER_PROBE_ACCURACY = {"acai": 0.9825, "baseline_ae": 0.9490}
K = 10  # clusters: one per digit


@torch.no_grad()
def encode_images(autoencoder, images: np.ndarray, device="cpu", batch: int = 1000) -> np.ndarray:
    """Flat float32 codes (n, latent_dim) of images (n, 1, 32, 32), encoded ``batch`` at a time."""
    parts = [autoencoder.encode(torch.as_tensor(images[i:i + batch], device=device)).float().cpu()
             for i in range(0, len(images), batch)]
    return torch.cat(parts).numpy() if parts else np.zeros((0, autoencoder.latent_dim), np.float32)


@torch.no_grad()
def interpolation_paths(autoencoder, a: np.ndarray, b: np.ndarray, steps: int = 10, device="cpu") -> np.ndarray:
    """Decoded images (pairs, steps, 1, 32, 32) at evenly spaced points of the straight line from a[i]'s
    code to b[i]'s, both ends included (so the first and last are the reconstructions)."""
    paths = autoencoder.interpolate(torch.as_tensor(a, device=device), torch.as_tensor(b, device=device), steps)
    return paths.float().cpu().numpy()


def _pick_pairs(labels: np.ndarray, pairs: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``pairs`` (A, B) test indices, distinct As, each B of another digit than its A where there is one."""
    out = []
    for a in rng.choice(len(labels), size=min(pairs, len(labels)), replace=False):
        pool = np.flatnonzero(labels != labels[a])
        if not len(pool):
            pool = np.flatnonzero(np.arange(len(labels)) != a)
        out.append((int(a), int(rng.choice(pool)) if len(pool) else int(a)))
    return out


def _summary(report: dict) -> str:
    probe, clusters, grid = report["probe"], report["clustering"], report["interpolation_grid"]
    paper = PAPER_PROBE_ACCURACY
    return "\n".join([
        f"# MNIST checks: {report['run_dir']}",
        "",
        f"Model at step {report['step']} ({report['config']}; ACAI {'on' if report['acai'] else 'off'}, regularizer "
        f"{report['regularizer']}), latent of {report['latent_dim']} dims; {report['train_images']} training and "
        f"{report['test_images']} test images.",
        "",
        "| check | test accuracy | train accuracy |",
        "|---|---|---|",
        f"| single-layer classifier (Adam {probe['lr']:g}, {probe['epochs']} epochs at batch {probe['batch']}, "
        f"whitened latent) | {100 * probe['test_accuracy']:.2f} % | {100 * probe['train_accuracy']:.2f} % |",
        f"| k-means (k = {clusters['k']}) on the whitened latent, Hungarian matching "
        f"| {100 * clusters['test_accuracy']:.2f} % | {100 * clusters['train_accuracy']:.2f} % |",
        f"| paper, single-layer classifier, d_z = 32 | ACAI {100 * paper['acai']:.2f} %, baseline AE "
        f"{100 * paper['baseline_ae']:.2f} % | |",
        "",
        f"interpolation_grid.png: {grid['pairs']} test pairs, one per row: the real A, {grid['steps']} images "
        "decoded on the straight line between the two codes (the first and last are reconstructions), the real B.",
        "",
    ])


def evaluate_mnist(run_dir, data_dir=None, out_dir=None, device="cpu", seed: int = 0, force: bool = False,
                   limit: int | None = None, pairs: int = 8, steps: int = 10, batch: int = 1000,
                   probe_epochs: int = PROBE_EPOCHS) -> dict:
    """Score an MNIST run: encode the 60000 training and 10000 test images (the first ``limit`` of each
    when given: for tests), train the single-layer probe on the training codes and test it, fit k-means
    (k = 10) on the whitened training codes and score the test codes after Hungarian matching, and draw
    ``pairs`` test interpolations of ``steps`` steps.

    ``data_dir`` defaults to the run config's data.path, ``out_dir`` to RUN_DIR/eval. Writes report.json,
    summary.md and interpolation_grid.png there, all or none, and returns the report. Raises ``EvalError``
    (one line, naming the file) for a run that is not an MNIST model, missing data, or report files that
    exist already without ``force`` (checked before any work).
    """
    run_dir = Path(run_dir)
    try:
        autoencoder, meta, cfg = load_autoencoder(run_dir, device, task="image")
    except CheckpointError as exc:
        raise EvalError(str(exc)) from None
    if cfg.data.kind != "mnist":
        raise EvalError(f"{run_dir}: a {cfg.data.kind} run, not an MNIST run")
    if limit is not None and limit < K:
        raise EvalError(f"limit must be at least {K} (the number of clusters), not {limit}")
    if pairs < 1 or steps < 2:
        raise EvalError(f"pairs must be at least 1 and steps at least 2 (both ends), not {pairs} and {steps}")
    data_dir = Path(data_dir if data_dir is not None else cfg.data.path)
    out_dir = report_dir(run_dir, out_dir)
    check_writable(out_dir, REPORT_FILES, force)

    try:
        train_x, train_y = load_mnist(data_dir, "train")
        test_x, test_y = load_mnist(data_dir, "test")
    except FileNotFoundError as exc:
        raise EvalError(f"{exc} (give the MNIST folder as data_dir)") from None
    except (OSError, ValueError) as exc:  # IdxError names the file; OSError's filename is in its text
        raise EvalError(str(exc)) from None
    if limit is not None:
        train_x, train_y, test_x, test_y = train_x[:limit], train_y[:limit], test_x[:limit], test_y[:limit]

    train_z = encode_images(autoencoder, train_x, device, batch)
    test_z = encode_images(autoencoder, test_x, device, batch)
    if not np.isfinite(train_z).all() or not np.isfinite(test_z).all():
        raise EvalError(f"{run_dir}: the model encodes some MNIST images to non-finite codes")
    try:
        probe = linear_probe(train_z, train_y, test_z, test_y, epochs=probe_epochs, seed=seed, device=device)
        white_train, white_test = whiten(train_z, test_z)
    except ValueError as exc:  # a collapsed encoder: every code the same
        raise EvalError(f"{run_dir}: {exc}") from None
    centres, train_clusters, inertia = kmeans(white_train, K, seed=seed)
    test_clusters = assign_clusters(white_test, centres)

    chosen = _pick_pairs(test_y, pairs, np.random.default_rng(seed))
    a, b = test_x[[p[0] for p in chosen]], test_x[[p[1] for p in chosen]]
    paths = interpolation_paths(autoencoder, a, b, steps, device)
    grid = np.concatenate([a[:, None], paths, b[:, None]], axis=1)  # rows: real A, the path, real B

    report = plain({
        "tool": "nesinterp eval",
        "benchmark": "mnist",
        "run_dir": str(run_dir),
        "step": meta.get("step"),
        "config": cfg.name,
        "acai": cfg.acai.enabled,
        "regularizer": cfg.regularizer.kind,
        "latent_dim": autoencoder.latent_dim,
        "train_images": len(train_x),
        "test_images": len(test_x),
        "probe": probe,
        "clustering": {
            "k": K,
            "test_accuracy": clustering_accuracy(test_clusters, test_y),
            "train_accuracy": clustering_accuracy(train_clusters, train_y),
            "inertia": inertia,
            "whitened_dims": int(white_train.shape[1]),
        },
        "interpolation_grid": {"pairs": len(chosen), "steps": steps, "test_indices": chosen},
        "paper_probe_accuracy_d_z_32": PAPER_PROBE_ACCURACY,
        "arguments": {"data_dir": str(data_dir), "out_dir": str(out_dir), "device": str(device), "seed": seed,
                      "limit": limit, "pairs": pairs, "steps": steps, "batch": batch,
                      "probe_epochs": probe_epochs, "probe_batch": PROBE_BATCH, "probe_lr": PROBE_LR},
        "files": list(REPORT_FILES),
    })
    write_report_files(out_dir, {
        "report.json": json_writer(report),
        "summary.md": text_writer(_summary(report)),
        "interpolation_grid.png": lambda path: write_image_grid(grid, path),
    }, force)
    return report
