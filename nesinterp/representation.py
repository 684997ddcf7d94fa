"""The music <-> tensor codec: ``Representation`` turns windows of Scores into the network's channels and
targets, and the network's logits back into Scores.

Each voice is a categorical over "silent" plus that voice's notes (P1/P2 33..108, TR 21..108, NO 1..16),
fed to the convolutions as one-hot channels over time; optionally one onset flag per voice (where a note
starts, ``Score.onsets``) and the expression: volume (P1, P2, NO) and timbre (duty, noise mode) as
one-hots; or, with ``notes="events"``, notes as decisions (``nesinterp.events``). Cutting Scores into
windows is ``nesinterp.windows``; training batches drawn on the device are ``nesinterp.train.batches``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from nesinterp.articulation import articulate, note_level_classes, onset_decisions, onset_flags
from nesinterp.events import KINDS, ONSET, PITCH_CLASSES, REST, event_notes, event_targets, note_pitches
from nesinterp.score import MAX_TIMBRE, NOTE_RANGE, Field, Score, Voice

VOICE_CLASSES = tuple(NOTE_RANGE[v][1] - NOTE_RANGE[v][0] + 2 for v in Voice)  # silent + notes: 77 77 89 17
NOTE_CHANNELS = sum(VOICE_CLASSES)
VELOCITY_CLASSES = 16
TIMBRE_CLASSES = tuple(MAX_TIMBRE[v] + 1 for v in Voice)

# Filled in at decode when a model does not model expression: typical NES-MDB values (train split:
# mean pulse velocity about 6, noise about 6; duty 50 % is the most common on P1 and P2).
DEFAULT_VELOCITY = (8, 6, 0, 6)
DEFAULT_TIMBRE = (2, 1, 0, 0)


def _note_to_class_table() -> torch.Tensor:
    table = torch.zeros(4, 256, dtype=torch.long)
    for v in Voice:
        lo, hi = NOTE_RANGE[v]
        table[v, lo : hi + 1] = torch.arange(1, hi - lo + 2)
    return table


NOTE_TO_CLASS = _note_to_class_table()


@dataclass(frozen=True)
class Representation:
    """What the networks see: window length, whether note onsets are a head of their own (``onsets``,
    with the per-voice probability above which a decoded onset fires, chosen on the valid split after
    training) and whether velocity and timbre are modelled (``expressive``)."""

    window: int = 128
    expressive: bool = False
    onsets: bool = False
    onset_threshold: tuple = (0.5, 0.5, 0.5, 0.5)
    sounding_bias: tuple = (0.0, 0.0, 0.0, 0.0)  # with onsets: how readily each voice sounds (chosen on valid)
    # when expressive: per voice (the triangle's unused), logits added per volume step before a volume is
    # picked, so the decoded volumes are as loud on average as the real ones (chosen on valid)
    volume_tilt: tuple = (0.0, 0.0, 0.0, 0.0)
    # "frames": a note class per frame (v1, v2); "events": rest / hold / onset at a pitch per frame (v3,
    # ``nesinterp.events``), which needs no onset head, thresholds or biases
    notes: str = "frames"

    def __post_init__(self):
        if self.notes not in ("frames", "events"):
            raise ValueError(f"notes must be frames or events, not {self.notes!r}")
        if self.notes == "events" and self.onsets:
            raise ValueError("notes as events carry their onsets: onsets must be off")
        threshold = tuple(float(t) for t in self.onset_threshold)  # JSON gives a list
        if len(threshold) != 4 or not all(0.0 < t < 1.0 for t in threshold):
            raise ValueError(f"onset_threshold must be 4 probabilities in (0, 1), not {self.onset_threshold!r}")
        object.__setattr__(self, "onset_threshold", threshold)
        bias = tuple(float(b) for b in self.sounding_bias)
        if len(bias) != 4 or not all(math.isfinite(b) for b in bias):
            raise ValueError(f"sounding_bias must be 4 finite numbers, not {self.sounding_bias!r}")
        object.__setattr__(self, "sounding_bias", bias)
        tilt = tuple(float(b) for b in self.volume_tilt)
        if len(tilt) != 4 or not all(math.isfinite(b) for b in tilt):
            raise ValueError(f"volume_tilt must be 4 finite numbers, not {self.volume_tilt!r}")
        object.__setattr__(self, "volume_tilt", tilt)

    def to_dict(self) -> dict:
        """What model.json stores to rebuild this representation."""
        return {"window": self.window, "expressive": self.expressive, "onsets": self.onsets,
                "onset_threshold": list(self.onset_threshold), "sounding_bias": list(self.sounding_bias),
                "volume_tilt": list(self.volume_tilt), "notes": self.notes}

    @property
    def events(self) -> bool:
        return self.notes == "events"

    @property
    def note_classes(self) -> tuple:
        """Classes of each voice's note head: a note per frame, or an event's kind (rest, hold, onset;
        ``nesinterp.events``), whose pitch has a head of its own (``pitch_classes``)."""
        return (KINDS,) * 4 if self.events else VOICE_CLASSES

    @property
    def pitch_classes(self) -> tuple:
        return PITCH_CLASSES if self.events else ()

    @property
    def pitch_channels(self) -> slice:
        """Where the pitch heads of notes as events sit among the output channels (empty otherwise)."""
        first = sum(self.note_classes)
        return slice(first, first + sum(self.pitch_classes))

    @property
    def channels(self) -> int:
        extra = len(Voice) if self.onsets else 0
        if self.expressive:
            extra += 3 * VELOCITY_CLASSES + sum(TIMBRE_CLASSES)
        return sum(self.note_classes) + sum(self.pitch_classes) + extra

    def targets(self, windows: torch.Tensor) -> dict[str, torch.Tensor]:
        """Class indices from uint8 windows (B, T, 4, 3): notes (B, 4, T); with onsets a boolean (B, 4, T);
        when expressive velocity (B, 3, T) for P1, P2, NO and timbre (B, 4, T)."""
        if self.events:
            kinds, pitches = event_targets(windows)
            out = {"notes": kinds, "pitch": pitches}
        else:
            table = NOTE_TO_CLASS.to(windows.device)
            notes = windows[..., Field.NOTE].long()
            out = {"notes": torch.stack([table[v][notes[:, :, v]] for v in Voice], dim=1)}
        if self.onsets:
            out["onsets"] = onset_flags(windows)
        if self.expressive:
            out["velocity"] = windows[:, :, [0, 1, 3], Field.VELOCITY].long().permute(0, 2, 1)
            out["timbre"] = windows[..., Field.TIMBRE].long().permute(0, 2, 1)
        return out

    def one_hot(self, targets: dict[str, torch.Tensor], dtype=torch.float32) -> torch.Tensor:
        """(B, channels, T) one-hot input from class indices (onsets as 0/1 flags)."""
        parts = [torch.nn.functional.one_hot(targets["notes"][:, v], self.note_classes[v]) for v in Voice]
        if self.events:  # the pitch of every sounding frame
            parts += [torch.nn.functional.one_hot(targets["pitch"][:, v], n) * (targets["notes"][:, v] != REST)[..., None]
                      for v, n in enumerate(self.pitch_classes)]
        if self.onsets:
            parts.append(targets["onsets"].permute(0, 2, 1).long())
        if self.expressive:
            parts += [torch.nn.functional.one_hot(targets["velocity"][:, i], VELOCITY_CLASSES) for i in range(3)]
            parts += [torch.nn.functional.one_hot(targets["timbre"][:, v], TIMBRE_CLASSES[v]) for v in Voice]
        return torch.cat(parts, dim=-1).permute(0, 2, 1).to(dtype)

    def split_logits(self, logits: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """Per-head logits from the decoder's (B, channels, T) output: notes, velocity and timbre as lists
        of (B, classes, T), onsets as one (B, 4, T) of per-voice logits."""
        parts = list(torch.split(logits, self._sizes(), dim=1))
        out = {"notes": parts[:4]}
        rest = parts[4:]
        if self.events:
            out["pitch"], rest = rest[:4], rest[4:]
        if self.onsets:
            out["onsets"] = rest.pop(0)
        if self.expressive:
            out["velocity"] = rest[:3]
            out["timbre"] = rest[3:7]
        return out

    def with_expression(self, logits: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """``logits`` (B, channels, T) with the volume and timbre heads taken from ``expression`` (the
        same shape): notes and onsets read from one code, the expression from another."""
        first = sum(self.note_classes) + sum(self.pitch_classes) + (len(Voice) if self.onsets else 0)
        return torch.cat([logits[:, :first], expression[:, first:]], dim=1)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Softmax within each head (sigmoid for onsets): what the critic sees of a decoded window,
        comparable to the one-hot input."""
        heads = self.split_logits(logits)
        parts = [p.softmax(dim=1) for p in heads["notes"] + heads.get("pitch", [])]
        if self.onsets:
            parts.append(heads["onsets"].sigmoid())
        for name in ("velocity", "timbre"):
            parts += [p.softmax(dim=1) for p in heads.get(name, [])]
        return torch.cat(parts, dim=1)

    def _sizes(self) -> list[int]:
        sizes = list(self.note_classes) + list(self.pitch_classes) + ([len(Voice)] if self.onsets else [])
        return sizes + ([VELOCITY_CLASSES] * 3 + list(TIMBRE_CLASSES) if self.expressive else [])

    def hard(self, logits: torch.Tensor) -> torch.Tensor:
        """The decoded window as one-hot channels (B, channels, ...) like the input: each head's most
        likely class (an onset flag where its logit is positive; with events, no pitch where it rests)."""
        parts = []
        for i, part in enumerate(torch.split(logits, self._sizes(), dim=1)):
            if self.onsets and i == len(Voice):
                parts.append((part > 0).to(logits.dtype))
            else:
                parts.append(torch.nn.functional.one_hot(part.argmax(dim=1), part.shape[1]).movedim(-1, 1).to(logits.dtype))
        if self.events:
            for v in Voice:
                parts[4 + v] = parts[4 + v] * (1 - parts[v][:, REST:REST + 1])
        return torch.cat(parts, dim=1)

    def straight_through(self, logits: torch.Tensor) -> torch.Tensor:
        """``hard`` decodes forward, ``probabilities``' gradient backward: what ACAI's critic sees of a
        decoded window when it is to judge what will be played, not a blur of probabilities."""
        soft = self.probabilities(logits)
        return self.hard(logits) + soft - soft.detach()

    def chooser(self, temperature: float = 0.0, generator: torch.Generator | None = None):
        """A ``choose(logits (B, channels)) -> one-hot (B, channels)`` for frame-by-frame decoding
        (``CausalHead.generate``): each head's argmax, or a draw at ``temperature``; with events the
        pitch fed back is the note that sounds (an onset's, carried through holds), as in training."""
        sizes = self._sizes()
        carried = {}

        def choose(frame: torch.Tensor) -> torch.Tensor:
            picks = [_pick(part, temperature, generator) for part in torch.split(frame.float(), sizes, dim=1)]
            if self.events:
                for v in Voice:
                    kind, pitch = picks[v], picks[4 + v]
                    held, sounding = carried.get(v, (torch.zeros_like(pitch), torch.zeros_like(pitch, dtype=torch.bool)))
                    pitch = torch.where(kind == ONSET, pitch, held)
                    sounding = (kind == ONSET) | ((kind != REST) & sounding)
                    carried[v] = (pitch, sounding)
                    picks[v] = torch.where(sounding, kind, torch.full_like(kind, REST))  # a hold of nothing rests
                    picks[4 + v] = pitch
            parts = [torch.nn.functional.one_hot(p, n).to(frame.dtype) for p, n in zip(picks, sizes)]
            if self.events:
                for v in Voice:
                    parts[4 + v] = parts[4 + v] * carried[v][1][:, None].to(frame.dtype)
            return torch.cat(parts, dim=1)
        return choose

    def decode(self, logits: torch.Tensor, temperature: float = 0.0,
               generator: torch.Generator | None = None) -> np.ndarray:
        """uint8 score arrays (B, T, 4, 3) from logits: argmax, or sampling at ``temperature``; with an
        onset head, notes start where it fires (``articulation.articulate``)."""
        heads = self.split_logits(logits.float())

        def pick(lg):
            return _pick(lg, temperature, generator)

        fire = events = None
        if self.onsets:
            fire = onset_decisions(heads["onsets"].cpu(), self.onset_threshold, temperature, generator)
        if self.events:  # one decision per voice and frame: rest, hold, or an onset at a pitch
            kinds = torch.stack([pick(heads["notes"][v].cpu()) for v in Voice], dim=1)
            # the most likely pitch of each whole note (``note_pitches``), or sampled frame by frame
            pitches = [note_pitches(kinds[:, v], heads["pitch"][v].cpu()) if temperature <= 0
                       else pick(heads["pitch"][v].cpu()) for v in Voice]
            events = event_notes(kinds, torch.stack(pitches, dim=1))
            fire = events[1].permute(0, 2, 1)
        batch, _, frames = logits.shape
        out = torch.zeros(batch, frames, 4, 3, dtype=torch.long)
        for v in Voice:
            lg = heads["notes"][v].cpu()
            if events is not None:
                note = events[0][:, :, v]
                cls = None
            elif fire is not None:  # note by note, starting where the onset head fires
                cls = note_level_classes(lg, fire[:, v], temperature, generator, self.sounding_bias[v])
            else:
                cls = pick(lg)
            if cls is not None:
                note = torch.where(cls > 0, cls + NOTE_RANGE[v][0] - 1, torch.zeros_like(cls))
            out[:, :, v, Field.NOTE] = note
            sounding = note > 0
            if self.expressive:
                if v != Voice.TR:
                    # the volume given that the voice sounds: class 0 is silence's, which an unsure head
                    # often picks, and a sounding voice at volume 0 (or clamped to 1) is lost; the head's
                    # most likely volume runs quiet, and ``volume_tilt`` leans it towards louder steps
                    loud = heads["velocity"][[0, 1, None, 2][v]][:, 1:]
                    if self.volume_tilt[v]:
                        loud = loud + self.volume_tilt[v] * torch.arange(loud.shape[1], dtype=loud.dtype).view(1, -1, 1)
                    vel = pick(loud).cpu() + 1
                    out[:, :, v, Field.VELOCITY] = torch.where(sounding, vel, 0)
                out[:, :, v, Field.TIMBRE] = pick(heads["timbre"][v]).cpu()
            else:
                out[:, :, v, Field.VELOCITY] = torch.where(sounding, DEFAULT_VELOCITY[v], 0)
                out[:, :, v, Field.TIMBRE] = DEFAULT_TIMBRE[v]
        arrays = out.numpy().astype(np.uint8)
        if fire is not None:
            arrays = articulate(arrays, fire.permute(0, 2, 1).numpy())
        return arrays

    def scores(self, logits: torch.Tensor, names: list[str] | None = None, **kw) -> list[Score]:
        arrays = self.decode(logits, **kw)
        names = names or [f"decoded-{i}" for i in range(len(arrays))]
        return [Score(a, n, "nesinterp.decode") for a, n in zip(arrays, names)]


def _pick(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    """Class indices of logits (B, classes, ...) over axis 1: argmax, or drawn at ``temperature``."""
    if temperature <= 0:
        return logits.argmax(dim=1)
    probs = (logits.float() / temperature).softmax(dim=1).movedim(1, -1)
    flat = probs.reshape(-1, probs.shape[-1])
    picks = torch.multinomial(flat.cpu(), 1, generator=generator).to(logits.device)
    return picks.reshape(probs.shape[:-1])
