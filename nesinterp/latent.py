"""Paths between codes in a latent space: straight (lerp) or along the great circle (slerp)."""

from __future__ import annotations

import torch


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between codes a and b (d,) at fractions t (k,), as MusicVAE does;
    straight lines where the two directions (nearly) coincide."""
    na, nb = a / a.norm().clamp_min(1e-12), b / b.norm().clamp_min(1e-12)
    omega = torch.arccos((na * nb).sum().clamp(-1.0, 1.0))
    t = t[:, None]
    if omega.abs() < 1e-4:
        return (1 - t) * a + t * b
    so = torch.sin(omega)
    return torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b


def latent_path(za: torch.Tensor, zb: torch.Tensor, steps: int, mode: str = "slerp") -> torch.Tensor:
    """Codes (steps, n, d) on the straight (lerp) or great-circle (slerp) path from each of ``za`` (n, d)
    to the same row of ``zb``, both endpoints included."""
    t = torch.linspace(0.0, 1.0, steps, device=za.device)
    if mode == "lerp":
        return (1 - t)[:, None, None] * za[None] + t[:, None, None] * zb[None]
    return torch.stack([slerp(za[i], zb[i], t) for i in range(len(za))], dim=1)
