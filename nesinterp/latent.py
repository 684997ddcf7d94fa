"""Paths between codes in a latent space: straight (lerp) or along the great circle (slerp), through
several songs in turn (a medley), and the bilinear grid between four songs."""

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


def medley_path(codes: list[torch.Tensor], steps: int, mode: str = "slerp") -> torch.Tensor:
    """Codes (legs x (steps - 1) + 1, n, d) walking from ``codes[0]`` (n, d) to ``codes[1]`` and on to the
    last: ``steps`` points a leg, both ends included, each song shared by two legs counted once."""
    legs = [latent_path(a, b, steps, mode) for a, b in zip(codes[:-1], codes[1:])]
    return torch.cat([legs[0]] + [leg[1:] for leg in legs[1:]])


def grid_codes(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor, size: int) -> torch.Tensor:
    """Codes (size * size, n, dim) bilinear between four corners (n, dim): A top left, B top right, C
    bottom left, D bottom right; row by row from the top, each row from left to right."""
    t = torch.linspace(0.0, 1.0, size, device=a.device)
    v, u = torch.meshgrid(t, t, indexing="ij")  # v down the rows, u along them
    u, v = u.reshape(-1, 1, 1), v.reshape(-1, 1, 1)
    return (1 - u) * (1 - v) * a + u * (1 - v) * b + (1 - u) * v * c + u * v * d
