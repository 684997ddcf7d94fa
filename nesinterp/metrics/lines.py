"""The ACAI lines benchmark's two scores (evaluation.md, section 1): Mean Distance and Smoothness.

Each decoded image of an interpolation is matched to a reference set of clean lines (10000 angles) by
cosine distance; the nearest reference gives the image's distance and its angle. Mean Distance says
whether the in-between images look like lines at all, Smoothness whether the angle moves evenly from
one end to the other. Lower is better for both.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["closest_lines", "interpolation_smoothness", "lines_scores", "UNDEFINED_BELOW"]

UNDEFINED_BELOW = 1e-4  # total angle change (radians) under which an interpolation's smoothness is NaN
_CHUNK = 2048  # query images per distance block: bounds the (chunk, 10000) similarity matrix
_CANDIDATES = 8  # nearest references (by a float32 search) compared exactly in float64


def closest_lines(images, reference, reference_theta) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine distance to, and angle of, the nearest reference line for each image.

    ``images`` (..., 1, 32, 32) or (..., 32, 32), ``reference`` (m, 1, 32, 32), ``reference_theta`` (m,):
    tensors or arrays. Images are flattened as they are (not clipped). Computed in float64 on the images'
    device (cosine distances of good lines are ~1e-7, below float32's resolution). Returns (distance,
    theta), both float64 of the images' leading shape.
    """
    x = torch.as_tensor(images)
    device = x.device
    lead = x.shape[:-3] if x.dim() >= 3 and x.shape[-3] == 1 else x.shape[:-2]
    x = x.reshape(-1, x.shape[-1] * x.shape[-2]).to(torch.float64)
    ref = torch.as_tensor(reference, device=device).reshape(len(reference), -1).to(torch.float64)
    ref_theta = torch.as_tensor(reference_theta, device=device).to(torch.float64)
    ref_unit = ref / ref.norm(dim=1, keepdim=True).clamp_min(1e-12)
    ref_unit32 = ref_unit.float()
    distance = torch.empty(len(x), dtype=torch.float64, device=device)
    index = torch.empty(len(x), dtype=torch.long, device=device)
    for k in range(0, len(x), _CHUNK):
        q = x[k:k + _CHUNK]
        q = q / q.norm(dim=1, keepdim=True).clamp_min(1e-12)
        # Search in float32 (twice as fast), then settle the few nearest candidates in float64.
        candidates = (q.float() @ ref_unit32.T).topk(min(_CANDIDATES, len(ref)), dim=1).indices  # (chunk, c)
        cos = torch.einsum("nd,ncd->nc", q, ref_unit[candidates])
        best, where = cos.max(dim=1)
        distance[k:k + _CHUNK] = 1.0 - best
        index[k:k + _CHUNK] = candidates.gather(1, where[:, None])[:, 0]
    return distance.reshape(lead), ref_theta[index].reshape(lead)


def interpolation_smoothness(theta) -> np.ndarray:
    """Per interpolation (rows of ``theta``, (pairs, steps) radians): the largest angle step over the
    total change, minus the even step 1/(steps - 1), after unwrapping. 0 for evenly spaced angles,
    about 1 - 1/(steps - 1) for an abrupt switch; NaN where the total change is below UNDEFINED_BELOW."""
    theta = np.unwrap(np.asarray(theta, dtype=np.float64), axis=-1)
    total = np.abs(theta[:, -1] - theta[:, 0])
    largest = np.max(np.abs(np.diff(theta, axis=-1)), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = largest / total - 1.0 / (theta.shape[-1] - 1)
    return np.where(total < UNDEFINED_BELOW, np.nan, score)


def lines_scores(images, reference, reference_theta) -> dict:
    """Mean Distance and Smoothness of interpolations ``images`` (pairs, steps, 1, 32, 32).

    Mean Distance: the mean nearest-reference cosine distance over all pairs x steps images.
    Smoothness: the sum of the defined per-interpolation smoothness values over the number of all
    interpolations (an undefined one counts as 0), as evaluation.md specifies.
    """
    distance, theta = closest_lines(images, reference, reference_theta)
    if distance.dim() != 2:
        raise ValueError(f"expected interpolations of shape (pairs, steps, 1, 32, 32), got {tuple(distance.shape)} "
                         "leading dims")
    smooth = interpolation_smoothness(theta.cpu().numpy())
    defined = ~np.isnan(smooth)
    return {
        "mean_distance": float(distance.mean()),
        "smoothness": float(np.sum(smooth[defined]) / len(smooth)),
        "undefined": int(np.sum(~defined)),
        "pairs": int(distance.shape[0]),
        "steps": int(distance.shape[1]),
    }


def even_angles(theta_a, theta_b, steps: int) -> np.ndarray:
    """Angles of the perfect interpolation from theta_a to theta_b: even steps along the shorter arc,
    (pairs, steps). Used to check the metric on constructed cases."""
    a, b = np.asarray(theta_a, dtype=np.float64), np.asarray(theta_b, dtype=np.float64)
    delta = (b - a + math.pi) % (2 * math.pi) - math.pi
    return a[:, None] + np.linspace(0.0, 1.0, steps)[None, :] * delta[:, None]
