"""Training batches on the device: a dataset split held there as uint8, random windows drawn there (a
step makes no host-to-device copy), and random transposition within each voice's range."""

from __future__ import annotations

import numpy as np
import torch

from nesinterp.score import NOTE_RANGE, Field, Voice


class ResidentSplit:
    """A dataset split held on ``device`` as uint8, with random windows drawn there.

    Only songs at least one window long are used; a window never crosses from one song to the next.
    """

    def __init__(self, scores: np.ndarray, offsets: np.ndarray, window: int, device="cpu"):
        lengths = np.diff(offsets)
        usable = lengths >= window
        if not usable.any():
            raise ValueError(f"no song is at least {window} frames long")
        self.device = torch.device(device)
        self.window = window
        self.frames = torch.tensor(np.asarray(scores), dtype=torch.uint8, device=self.device)  # copies the memmap
        starts = offsets[:-1][usable]
        counts = lengths[usable] - window + 1  # valid window starts per song
        self.song_starts = torch.as_tensor(starts, dtype=torch.long, device=self.device)
        self.cumulative = torch.as_tensor(np.cumsum(counts), dtype=torch.long, device=self.device)
        self.songs_used = int(usable.sum())
        self.songs_skipped = int((~usable).sum())

    @classmethod
    def from_split(cls, split, window: int, device="cpu") -> ResidentSplit:
        return cls(np.asarray(split.scores), np.asarray(split.offsets), window, device)

    @property
    def positions(self) -> int:
        return int(self.cumulative[-1])

    def sample(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """uint8 windows (batch, window, 4, 3), uniform over all valid window positions."""
        r = torch.randint(0, self.positions, (batch,), generator=generator, device=self.device)
        song = torch.searchsorted(self.cumulative, r, right=True)
        before = torch.where(song > 0, self.cumulative[(song - 1).clamp_min(0)], torch.zeros_like(song))
        start = self.song_starts[song] + (r - before)
        index = start[:, None] + torch.arange(self.window, device=self.device)
        return self.frames[index]


def transpose(windows: torch.Tensor, max_semitones: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift the pitched voices of each window by one random interval in [-max, max] semitones,
    narrowed per window so every sounding note stays inside its voice's range. Noise is untouched."""
    if max_semitones <= 0:
        return windows
    b = windows.shape[0]
    notes = windows[..., Field.NOTE].long()  # (B, T, 4)
    lo_room = torch.full((b,), -max_semitones, dtype=torch.long, device=windows.device)
    hi_room = torch.full((b,), max_semitones, dtype=torch.long, device=windows.device)
    for v in (Voice.P1, Voice.P2, Voice.TR):
        n = notes[:, :, v]
        on = n > 0
        lo, hi = NOTE_RANGE[v]
        low = torch.where(on, n, torch.full_like(n, 255)).min(dim=1).values
        high = torch.where(on, n, torch.zeros_like(n)).max(dim=1).values
        has = on.any(dim=1)
        lo_room = torch.where(has, torch.maximum(lo_room, lo - low), lo_room)
        hi_room = torch.where(has, torch.minimum(hi_room, hi - high), hi_room)
    u = torch.rand(b, generator=generator, device=windows.device)
    span = (hi_room - lo_room).clamp_min(0)
    shift = torch.where(hi_room >= lo_room, lo_room + (u * (span + 1)).long().clamp(max=span), torch.zeros_like(span))
    out = windows.clone()
    pitched = notes[:, :, :3]
    moved = torch.where(pitched > 0, pitched + shift[:, None, None], pitched)
    out[:, :, :3, Field.NOTE] = moved.to(windows.dtype)
    return out
