"""A decoder that hears what it has played (music model v3): a small autoregressive head over the
conv decoder's features.

The conv decoder turns a code into features per frame; the head reads them together with what was
decoded at the frames before (the one-hot events and expression of frame t - 1, t - 2, ...) through
causal dilated convolutions, and gives frame t's logits. Training feeds it the true previous frames
(teacher forcing), each dropped (zeroed) with probability ``dropout`` and a whole window's with
probability ``blank``, so it leans on the code and can also decode from the code alone ("parallel":
every previous frame unknown), which is how ACAI's mixes are decoded during training. Decoding is
greedy, frame by frame, batched over every window of a blend, each layer's past kept so a frame costs
one small matrix product per layer (``generate``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SLOPE = 0.2


class CausalHead(nn.Module):
    """(features (B, F, T), previous frames (B, C, T)) -> logits (B, C, T); previous frames are the
    decoded one-hot channels shifted right by one frame (``shift``)."""

    def __init__(self, features: int, channels: int, width: int = 128, layers: int = 5,
                 dropout: float = 0.3, blank: float = 0.25):
        super().__init__()
        self.inp = nn.Conv1d(channels, width, 1)
        self.cond = nn.Conv1d(features, width, 1)
        self.dilations = [2 ** i for i in range(layers)]  # receptive field 2^layers frames
        self.convs = nn.ModuleList(nn.Conv1d(width, width, 2, dilation=d) for d in self.dilations)
        self.out = nn.Conv1d(width, channels, 1)
        self.skip = nn.Conv1d(features, channels, 1)  # the code's own say, whatever came before
        self.dropout, self.blank = dropout, blank
        # 1 where the frames before may speak (the autoregressive part), 0 for outputs read from the code
        # alone (``code_only``); a buffer, so a model file keeps it
        self.register_buffer("ar_gate", torch.ones(channels))
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.normal_(m.weight, 0.0, 1.0 / math.sqrt((1 + SLOPE ** 2) * m.weight[0].numel()))
                nn.init.zeros_(m.bias)

    @staticmethod
    def shift(frames: torch.Tensor) -> torch.Tensor:
        """What frame t sees of the frames before: (B, C, T) moved right by one, zeros at frame 0."""
        return F.pad(frames, (1, 0))[..., :-1]

    def masked(self, previous: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Teacher forcing's input dropout: each previous frame zeroed with probability ``dropout``,
        every frame of a window with probability ``blank``."""
        b, _, t = previous.shape
        keep = torch.rand(b, 1, t, device=previous.device, generator=generator) >= self.dropout
        keep &= torch.rand(b, 1, 1, device=previous.device, generator=generator) >= self.blank
        return previous * keep.to(previous.dtype)

    def forward(self, features: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
        """Logits (B, C, T) of every frame at once; ``previous`` None: decoded from the code alone."""
        h = self.cond(features)  # no previous frames known: as if all were dropped
        h = h + (self.inp.bias.view(1, -1, 1) if previous is None else self.inp(previous.to(h.dtype)))
        for conv, d in zip(self.convs, self.dilations):
            h = h + F.leaky_relu(conv(F.pad(h, (d, 0))), SLOPE)
        return self.out(F.leaky_relu(h, SLOPE)) * self.ar_gate.view(1, -1, 1).to(h.dtype) + self.skip(features)

    def code_only(self, channels: slice) -> None:
        """Read these output channels from the code's features alone, not from the frames before (the
        pitch of notes as events: teacher forcing would let the head copy the previous frame's pitch
        and the code would never learn it)."""
        self.ar_gate[channels] = 0.0

    @torch.no_grad()
    def generate(self, features: torch.Tensor, choose) -> torch.Tensor:
        """Greedy (or sampled) decoding, frame by frame: ``choose(logits (B, C))`` gives frame t's one-hot
        channels (B, C), which frame t + 1 then sees. Returns the logits (B, C, T) each frame was chosen
        from (with the frames before as chosen)."""
        b, _, frames = features.shape
        cond = self.cond(features)  # (B, W, T)
        skip = self.skip(features)
        width = cond.shape[1]
        # each layer's input at every frame so far (the dilated taps read back into it)
        history = [cond.new_zeros(b, width, frames) for _ in self.convs]
        weights = [(conv.weight[:, :, 0], conv.weight[:, :, 1], conv.bias) for conv in self.convs]
        inp_w, inp_b = self.inp.weight[:, :, 0], self.inp.bias
        out_w, out_b = self.out.weight[:, :, 0], self.out.bias
        previous = cond.new_zeros(b, inp_w.shape[1])
        logits = []
        for t in range(frames):
            h = cond[:, :, t] + F.linear(previous, inp_w, inp_b)
            for layer, (w_past, w_now, bias) in enumerate(weights):
                history[layer][:, :, t] = h
                d = self.dilations[layer]
                now = F.linear(h, w_now, bias)
                if t >= d:  # the dilated tap: this layer's input d frames back (zeros before the window)
                    now = now + F.linear(history[layer][:, :, t - d], w_past)
                h = h + F.leaky_relu(now, SLOPE)
            frame = F.linear(F.leaky_relu(h, SLOPE), out_w, out_b) * self.ar_gate + skip[:, :, t]
            logits.append(frame)
            previous = choose(frame).to(frame.dtype)
        return torch.stack(logits, dim=2)
