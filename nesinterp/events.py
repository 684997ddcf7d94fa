"""Notes as decisions (music model v3): per voice and frame one decision, so a note and its attack are
one choice: a rest, a hold of the note sounding the frame before, or an onset at a pitch (for the
noise, at an index).

The decision is factored into its kind (rest / hold / onset, ``KINDS``) and the pitch (the voice's
k-th note: P1 / P2 33..108, TR 21..108, the noise's index k + 1), so that "onset at pitch p" has
probability P(onset) x P(p). The pitch is also asked of every sounding frame, held or struck: every
frame teaches the decoder which pitch sounds (at an onset frame alone, a sixth of the frames, pitch is
learnt far too slowly: measured, a decoder trained on one categorical over rest / hold / 76 onset
pitches gave the onsets 1 % of its probability after 64k windows). An onset is what ``Score.onsets``
calls one (a new pitch, a start after silence, or a re-attack of the same pitch, which is an onset at
the held pitch). A hold after a rest, or at the first frame, plays nothing.

The v2 representation asked a note head per frame and a separate onset head, and decoding reconciled
them with thresholds and articulation rules; here the decision is the note event itself.
"""

from __future__ import annotations

import torch

from .articulation import onset_flags
from .score import NOTE_RANGE, Field, Voice

REST, HOLD, ONSET = 0, 1, 2
KINDS = 3
PITCH_CLASSES = tuple(NOTE_RANGE[v][1] - NOTE_RANGE[v][0] + 1 for v in Voice)  # 76 76 88 16


def _low(device) -> torch.Tensor:
    return torch.tensor([NOTE_RANGE[v][0] for v in Voice], device=device).view(1, 4, 1)


def event_targets(windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(kinds, pitches), each (B, 4, T), of uint8 windows (B, T, 4, 3); a rest's pitch is 0 (and means
    nothing)."""
    notes = windows[..., Field.NOTE].long().permute(0, 2, 1)  # (B, 4, T)
    onset = onset_flags(windows)
    kinds = torch.where(notes == 0, REST, torch.where(onset, ONSET, HOLD))
    return kinds, (notes - _low(windows.device)).clamp_min(0) * (notes > 0)


def event_notes(kinds: torch.Tensor, pitches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(notes (B, T, 4), onsets (B, T, 4) boolean) of decisions (B, 4, T): each onset's pitch held
    through the holds that follow it, a rest (or a hold with nothing to hold) silent. Vectorised: each
    frame reads the last frame at or before it that was an onset or a rest."""
    t = torch.arange(kinds.shape[2], device=kinds.device).view(1, 1, -1).expand_as(kinds)
    anchor = torch.where(kinds != HOLD, t, torch.full_like(t, -1)).cummax(dim=2).values
    start = anchor.clamp_min(0)
    sounding = (anchor >= 0) & (kinds.gather(2, start) == ONSET)
    notes = torch.where(sounding, pitches.gather(2, start) + _low(kinds.device), torch.zeros_like(pitches))
    return notes.permute(0, 2, 1), (kinds == ONSET).permute(0, 2, 1)


def note_pitches(kinds: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Each note's pitch decided over the whole note: (B, T) pitch indices of one voice, where the frame
    that starts a note (and every frame, read where ``event_notes`` reads it) holds the argmax of the
    pitch log-probabilities summed over the note's frames, its onset through its holds. The code is
    coarser than a frame (one position per 8 frames), so the decoder's features at an onset still blur
    into the note before; the frames after it know the new pitch better. ``kinds`` (B, T), ``logits``
    (B, pitch classes, T)."""
    t = torch.arange(kinds.shape[-1], device=kinds.device).expand_as(kinds)
    anchor = torch.where(kinds != HOLD, t, torch.full_like(t, -1)).cummax(dim=-1).values
    start = anchor.clamp_min(0)
    sounding = (anchor >= 0) & (kinds.gather(-1, start) == ONSET)
    log_p = logits.float().log_softmax(dim=1) * sounding.unsqueeze(1)
    totals = torch.zeros_like(log_p).scatter_add_(2, start.unsqueeze(1).expand_as(log_p), log_p)
    return totals.argmax(dim=1)
