"""Notes as decisions (music model v3): per voice and frame one categorical, so a note and its attack
are one choice.

Class 0 is a rest, class 1 holds the note sounding the frame before, class 2 + k starts a note: the
voice's k-th pitch (P1 / P2 33..108, TR 21..108) or, for the noise, index k + 1. An onset is what
``Score.onsets`` calls one (a new pitch, a start after silence, or a re-attack of the same pitch), so
a re-attack is an onset class at the held pitch. A hold after a rest, or at the first frame, plays
nothing (the decoder may emit one; it is read as a rest).

The v2 representation asked a note head per frame and a separate onset head where notes start, and
decoding reconciled them afterwards with thresholds and articulation rules; here the decision is the
note event itself.
"""

from __future__ import annotations

import torch

from .articulation import onset_flags
from .score import NOTE_RANGE, Field, Voice

REST, HOLD, FIRST_ONSET = 0, 1, 2
EVENT_CLASSES = tuple(FIRST_ONSET + NOTE_RANGE[v][1] - NOTE_RANGE[v][0] + 1 for v in Voice)  # 78 78 90 18


def event_targets(windows: torch.Tensor) -> torch.Tensor:
    """Event classes (B, 4, T) of uint8 windows (B, T, 4, 3)."""
    notes = windows[..., Field.NOTE].long().permute(0, 2, 1)  # (B, 4, T)
    onset = onset_flags(windows)
    low = torch.tensor([NOTE_RANGE[v][0] for v in Voice], device=windows.device).view(1, 4, 1)
    start = FIRST_ONSET + (notes - low).clamp_min(0)
    return torch.where(notes == 0, REST, torch.where(onset, start, HOLD))


def event_notes(events: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(notes (B, T, 4), onsets (B, T, 4) boolean) of event classes (B, 4, T): each onset's pitch held
    through the holds that follow it, a rest (or a hold with nothing to hold) silent. Vectorised: each
    frame reads the last frame at or before it that was an onset or a rest."""
    batch, voices, frames = events.shape
    t = torch.arange(frames, device=events.device).view(1, 1, -1).expand_as(events)
    anchor = torch.where(events != HOLD, t, torch.full_like(t, -1)).cummax(dim=2).values
    source = events.gather(2, anchor.clamp_min(0))
    low = torch.tensor([NOTE_RANGE[v][0] for v in Voice], device=events.device).view(1, 4, 1)
    sounding = (anchor >= 0) & (source >= FIRST_ONSET)
    notes = torch.where(sounding, source - FIRST_ONSET + low, torch.zeros_like(source))
    return notes.permute(0, 2, 1), (events >= FIRST_ONSET).permute(0, 2, 1)
