"""The MNIST downstream checks of the ACAI paper (docs/scores.md, section 2) on frozen
latents: a single-layer softmax probe, and k-means on whitened codes scored by Hungarian matching.
Pure functions on arrays; deterministic given their seed.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

__all__ = ["whiten", "kmeans", "assign_clusters", "clustering_accuracy", "linear_probe"]

# ACAI's probe: one dense layer on the gradient-stopped latent, its own Adam at 1e-4, batch 64. The paper
# trains it alongside the autoencoder; after training we give it a fixed budget instead: 200 epochs at
# batch 64 (187600 Adam steps, near the paper's 262144) on whitened latents. On the 60000 x 32 latents
# of two MNIST models that reached the exact optimum's test accuracy (L-BFGS: 91.22 %, 87.19 %) within
# 0.05 % (100 epochs: within 0.2 %), in ~18 s each on 2 CPU cores busy with other jobs.
PROBE_LR = 1e-4
PROBE_BATCH = 64
PROBE_EPOCHS = 200


@contextmanager
def _one_thread(device=torch.device("cpu")):
    """Run torch on one CPU thread meanwhile (the setting is restored after). These loops multiply tiny
    matrices: a second thread gains nothing, and when the cores are shared with other jobs the threads
    wait on each other: on 2 busy cores, two threads made the probe 9x and k-means 3.5x slower."""
    if torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _as_float64(x, name: str) -> np.ndarray:
    x = _numpy(x).astype(np.float64, copy=False)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (points, dims), not shape {x.shape}")
    return x


# --- whitening ----------------------------------------------------------------------------------


def whiten(train, test=None, rtol: float = 1e-6) -> tuple[np.ndarray, np.ndarray | None]:
    """``train`` and ``test`` (n, d) centred on the training mean and whitened with the SVD of the centred
    training points: the training result has identity covariance (ddof = 1), and ``test`` gets the same map.

    Directions whose singular value is below ``rtol`` x the largest (a collapsed latent dimension, or
    fewer points than dimensions) carry no training variance to rescale; they are dropped rather than
    divided by ~0, so the result may have fewer than d columns. float64 arrays; ``test`` None gives None.
    """
    train = _as_float64(train, "train")
    if len(train) < 2:
        raise ValueError("whiten needs at least 2 training points")
    mean = train.mean(axis=0)
    centred = train - mean
    _u, s, vt = np.linalg.svd(centred, full_matrices=False)
    keep = s > rtol * s[0] if s[0] > 0 else np.zeros_like(s, dtype=bool)
    if not keep.any():
        raise ValueError("whiten: the training points are all equal (no variance to whiten)")
    # centred = U S V^T, so centred @ V / S = U has orthonormal columns; sqrt(n - 1) makes its covariance I.
    transform = vt[keep].T * (np.sqrt(len(train) - 1) / s[keep])
    out_test = None
    if test is not None:
        test = _as_float64(test, "test")
        if test.shape[1] != train.shape[1]:
            raise ValueError(f"test has {test.shape[1]} dimensions, train {train.shape[1]}")
        out_test = (test - mean) @ transform
    return centred @ transform, out_test


# --- k-means ------------------------------------------------------------------------------------


def _as_points(x, name: str) -> torch.Tensor:
    return torch.from_numpy(_as_float64(x, name))


def assign_clusters(x, centres) -> np.ndarray:
    """Index of the nearest centre (squared Euclidean) of each point of ``x`` (n, d): int64 (n,)."""
    x, centres = _as_points(x, "x"), _as_points(centres, "centres")
    if x.shape[1] != centres.shape[1]:
        raise ValueError(f"points have {x.shape[1]} dimensions, centres {centres.shape[1]}")
    return _nearest(x, centres).numpy()


def _kmeans_plus_plus(x: torch.Tensor, k: int, rng: np.random.Generator) -> torch.Tensor:
    """Arthur & Vassilvitskii's seeding: each new centre drawn with probability proportional to the
    squared distance to the nearest centre chosen so far."""
    chosen = [int(rng.integers(len(x)))]
    nearest = ((x - x[chosen[0]]) ** 2).sum(dim=1)  # squared distance to the nearest chosen centre
    for _ in range(1, k):
        cumulative = torch.cumsum(nearest, dim=0)
        total = float(cumulative[-1])
        if total <= 0:  # fewer distinct points than k: any point will do
            chosen.append(int(rng.integers(len(x))))
        else:
            u = torch.tensor([rng.random() * total], dtype=cumulative.dtype)
            chosen.append(min(int(torch.searchsorted(cumulative, u, right=True)), len(x) - 1))
        nearest = torch.minimum(nearest, ((x - x[chosen[-1]]) ** 2).sum(dim=1))
    return x[chosen].clone()


def _nearest(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Index of each point's nearest centre: argmin of |c|^2 - 2 x.c (|x|^2 does not change the order)."""
    return torch.addmm((centres * centres).sum(dim=1), x, centres.T, alpha=-2.0).argmin(dim=1)


def _lloyd(x: torch.Tensor, centres: torch.Tensor, iterations: int
           ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Lloyd iterations from ``centres`` until no assignment changes; (centres, labels, inertia)."""
    k = len(centres)
    labels = None
    for _ in range(iterations):
        new = _nearest(x, centres)
        if labels is not None and torch.equal(new, labels):
            break
        labels = new
        counts = torch.bincount(labels, minlength=k).to(x.dtype)
        sums = torch.zeros_like(centres).index_add_(0, labels, x)
        empty = counts == 0
        centres = torch.where(empty[:, None], centres, sums / counts.clamp(min=1)[:, None])
        if empty.any():
            # Re-seed an empty cluster at the points worst served by their centre (deterministic).
            worst = torch.argsort(((x - centres[labels]) ** 2).sum(dim=1), descending=True, stable=True)
            centres[empty] = x[worst[: int(empty.sum())]]
    labels = _nearest(x, centres)
    return centres, labels, float(((x - centres[labels]) ** 2).sum())


def kmeans(x, k: int = 10, restarts: int = 10, iterations: int = 300, seed: int = 0
           ) -> tuple[np.ndarray, np.ndarray, float]:
    """k-means of the points ``x`` (n, d): k-means++ seeding, then Lloyd iterations until no assignment
    changes (or ``iterations``), from ``restarts`` seedings; the one of lowest inertia wins.

    Returns (centres (k, d) float64, labels (n,) int64, inertia = sum of squared distances to the
    assigned centres); ``assign_clusters`` labels new points. Deterministic given ``seed``. Computed in
    float64 torch on the CPU (with torch's thread setting: one thread is all this needs).
    """
    x = _as_points(x, "x")
    if not 1 <= k <= len(x):
        raise ValueError(f"k must be between 1 and the number of points ({len(x)}), not {k}")
    if restarts < 1 or iterations < 1:
        raise ValueError("restarts and iterations must be at least 1")
    rng = np.random.default_rng(seed)
    best = None
    with _one_thread():
        for _ in range(restarts):
            result = _lloyd(x, _kmeans_plus_plus(x, k, rng), iterations)
            if best is None or result[2] < best[2]:
                best = result
    centres, labels, inertia = best
    return centres.numpy(), labels.numpy(), inertia


# --- scores -------------------------------------------------------------------------------------


def clustering_accuracy(clusters, labels) -> float:
    """Share of points whose cluster, mapped one-to-one onto a label by the Hungarian algorithm on the
    (cluster x label) contingency table, equals their label. Any ids; clusters left unmatched (more
    clusters than labels) count as wrong."""
    clusters, labels = np.asarray(clusters).reshape(-1), np.asarray(labels).reshape(-1)
    if clusters.shape != labels.shape:
        raise ValueError(f"{clusters.size} cluster ids for {labels.size} labels")
    if clusters.size == 0:
        raise ValueError("clustering_accuracy of no points")
    cluster_ids, c = np.unique(clusters, return_inverse=True)
    label_ids, y = np.unique(labels, return_inverse=True)
    table = np.bincount(c * len(label_ids) + y, minlength=len(cluster_ids) * len(label_ids))
    table = table.reshape(len(cluster_ids), len(label_ids))
    from scipy.optimize import linear_sum_assignment  # here: importing it costs blend's start 0.2-0.5 s

    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / clusters.size)


def linear_probe(train_z, train_y, test_z, test_y, lr: float = PROBE_LR, batch: int = PROBE_BATCH,
                 epochs: int = PROBE_EPOCHS, seed: int = 0, device="cpu", whiten_inputs: bool = True) -> dict:
    """ACAI's single-layer classifier: one linear layer + softmax cross-entropy on the flattened, frozen
    latents, trained with its own Adam (``lr``, betas 0.9 / 0.999, eps 1e-8) on minibatches of a fresh
    shuffle each epoch, for ``epochs`` passes over the training latents.

    ``whiten_inputs`` (default) feeds the layer the latents whitened with the training set's ``whiten``
    map. That is an invertible affine map the layer could absorb, so the classifiers it can express are
    the same; it only makes the optimum reachable by Adam at 1e-4 in a fixed number of steps. On raw
    codes the weights it needs scale as 1 / (latent scale), and Adam moves each by about ``lr`` a step:
    codes of std 0.005 (a young model) would need millions of steps.

    Returns {"test_accuracy", "train_accuracy", "train_loss" (mean over the last epoch), "epochs",
    "batch", "lr", "steps", "whitened"}. The weights start at zero (the problem is convex: nothing is lost) and the
    shuffles come from ``seed``, so the result is deterministic on a given device.
    """
    device = torch.device(device)
    train_z, test_z = (_numpy(z) for z in (train_z, test_z))
    train_z, test_z = train_z.reshape(len(train_z), -1), test_z.reshape(len(test_z), -1)
    if whiten_inputs and len(train_z) > 1:
        train_z, test_z = whiten(train_z, test_z)

    def tensors(z, y, name):
        z = torch.as_tensor(z, dtype=torch.float32)
        y = torch.as_tensor(_numpy(y)).long().reshape(-1)
        if len(z) != len(y) or len(z) == 0:
            raise ValueError(f"{name}: {len(z)} latents for {len(y)} labels")
        if y.min() < 0:
            raise ValueError(f"{name}: negative class label {int(y.min())}")
        # A constant 1 column carries the bias: one matrix product per step.
        return torch.cat([z, torch.ones(len(z), 1)], 1).to(device), y.to(device)

    xs, ys = tensors(train_z, train_y, "train")
    xt, yt = tensors(test_z, test_y, "test")
    if xs.shape[1] != xt.shape[1]:
        raise ValueError(f"test latents have {xt.shape[1] - 1} dimensions, train {xs.shape[1] - 1}")
    if batch < 1 or epochs < 0:
        raise ValueError("batch must be at least 1 and epochs not negative")
    classes = int(max(ys.max(), yt.max())) + 1
    one_hot = torch.eye(classes, device=device)
    # The closed-form gradient of softmax cross-entropy, (softmax - one_hot) / B, and Adam written out
    # as torch.optim.Adam computes it: 3-4x faster than autograd + torch.optim on steps this small.
    w = torch.zeros(xs.shape[1], classes, device=device)
    m, v = torch.zeros_like(w), torch.zeros_like(w)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    gen = torch.Generator().manual_seed(seed)
    n, step, last_loss = len(xs), 0, float("nan")
    with _one_thread(device):
        for _ in range(epochs):
            order = torch.randperm(n, generator=gen).to(device)
            x_epoch, y_epoch = xs[order], ys[order]
            loss_sum = torch.zeros((), device=device)
            for start in range(0, n, batch):
                xb, yb = x_epoch[start:start + batch], y_epoch[start:start + batch]
                logp = torch.log_softmax(xb @ w, dim=1)
                loss_sum -= logp.gather(1, yb[:, None]).sum()
                grad = xb.T @ (logp.exp_() - one_hot[yb])
                grad /= len(xb)
                step += 1
                m.mul_(beta1).add_(grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = (v / (1 - beta2 ** step)).sqrt_().add_(eps)
                w.addcdiv_(m, denom, value=-lr / (1 - beta1 ** step))
            last_loss = float(loss_sum) / n

    def accuracy(x, y):
        hits = sum(int(((x[i:i + 8192] @ w).argmax(1) == y[i:i + 8192]).sum()) for i in range(0, len(x), 8192))
        return hits / len(x)

    return {"test_accuracy": accuracy(xt, yt), "train_accuracy": accuracy(xs, ys), "train_loss": last_loss,
            "epochs": epochs, "batch": batch, "lr": lr, "steps": step, "whitened": whiten_inputs}
