"""The networks: a 1-D convolutional autoencoder over time for music, the official ACAI 2-D one for
32x32 images, and critics of the encoders' shape. No I/O here.

Both follow ACAI's design (docs/models.md): per scale two convolutions with LeakyReLU(0.2)
then 2x average pooling; the decoder mirrors it with nearest-neighbour upsampling; weights drawn with
std 1 / sqrt((1 + 0.2^2) fan_in); the critic is an encoder whose output is averaged to one scalar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .losses import acai_mix

SLOPE = 0.2  # TF's LeakyReLU default, which ACAI used; PyTorch's default is 0.01


@dataclass(frozen=True)
class ModelConfig:
    kind: str = "conv1d"  # "conv1d" (music) or "acai2d" (32x32 images)
    width: int = 32  # channels at the first scale, doubled per scale up to max_width
    max_width: int = 256
    scales: int = 4
    latent_dim: int = 64  # conv1d: a flat vector of this size
    latent_channels: int = 16  # acai2d: latent is latent_channels x (32 / 2^scales)^2
    kernel: int = 3
    # conv1d only (the defaults are the original model):
    latent_layout: str = "flat"  # "flat": one vector; "temporal": latent_dim numbers as positions x channels
    block: str = "plain"  # "plain": two convolutions per scale; "residual": dilated (1, 2) residual blocks
    upsample: str = "nearest"  # decoder: "nearest" (ACAI's) or "learned" (transposed convolution)
    # conv1d: "none" (the decoder's last convolution gives every frame's logits) or "causal" (music v3: an
    # autoregressive head over the decoder's features and the frames decoded before, ``event_head``)
    head: str = "none"
    head_width: int = 128
    head_layers: int = 5  # dilations 1, 2, 4, ...: a receptive field of 2^layers frames
    head_dropout: float = 0.3  # teacher forcing: each true previous frame hidden with this probability
    head_blank: float = 0.25  # and every previous frame of a window with this one

    def __post_init__(self):
        if self.kind not in ("conv1d", "acai2d"):
            raise ValueError(f"model.kind must be conv1d or acai2d, not {self.kind!r}")
        for name, allowed in (("latent_layout", ("flat", "temporal")), ("block", ("plain", "residual")),
                              ("upsample", ("nearest", "learned")), ("head", ("none", "causal"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"model.{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        for name in ("width", "max_width", "scales", "latent_dim", "latent_channels", "kernel"):
            if getattr(self, name) < 1:
                raise ValueError(f"model.{name} must be at least 1")

    def widths(self) -> list[int]:
        return [min(self.width << s, self.max_width) for s in range(self.scales + 1)]


def acai_init(module: nn.Module) -> None:
    """ACAI's initialisation: normal(0, 1 / sqrt((1 + slope^2) fan_in)), zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            nn.init.normal_(m.weight, 0.0, 1.0 / math.sqrt((1 + SLOPE**2) * fan_in))
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _act() -> nn.Module:
    return nn.LeakyReLU(SLOPE)


class Residual1d(nn.Module):
    """x + f(x) with f two dilated convolutions (dilation 1 then 2), a 1x1 projection where the width
    changes; LeakyReLU after the sum."""

    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, padding=2 * (kernel // 2), dilation=2)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.act = _act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.skip(x) + self.conv2(self.act(self.conv1(x))))


def _scale_block(cfg: ModelConfig, c_in: int, c_out: int) -> list[nn.Module]:
    """The convolutions of one scale: ACAI's two plain ones, or a residual dilated block."""
    pad = cfg.kernel // 2
    if cfg.block == "residual":
        return [Residual1d(c_in, c_out, cfg.kernel)]
    return [nn.Conv1d(c_in, c_in, cfg.kernel, padding=pad), _act(), nn.Conv1d(c_in, c_out, cfg.kernel, padding=pad),
            _act()]


def latent_grid(cfg: ModelConfig, window: int) -> tuple[int, int]:
    """(channels, positions) of a temporal latent: one position per 2^scales frames."""
    positions = window >> cfg.scales
    if cfg.latent_dim % positions:
        raise ValueError(f"model.latent_dim {cfg.latent_dim} must be a multiple of the {positions} latent "
                         f"positions (window {window} / 2^scales) for latent_layout temporal")
    return cfg.latent_dim // positions, positions


class Encoder1d(nn.Module):
    """(B, channels, T) -> (B, out_dim), or (B, C, T / 2^scales) for a temporal latent. T must be divisible
    by 2^scales."""

    def __init__(self, cfg: ModelConfig, in_channels: int, window: int, out_dim: int):
        super().__init__()
        if window % (1 << cfg.scales):
            raise ValueError(f"window {window} must be divisible by 2^scales = {1 << cfg.scales}")
        w = cfg.widths()
        pad = cfg.kernel // 2
        layers: list[nn.Module] = [nn.Conv1d(in_channels, w[0], 1)]
        for s in range(cfg.scales):
            layers += [*_scale_block(cfg, w[s], w[s + 1]), nn.AvgPool1d(2)]
        layers += [nn.Conv1d(w[-1], w[-1], cfg.kernel, padding=pad), _act()]
        self.features = nn.Sequential(*layers)
        self.temporal = cfg.latent_layout == "temporal"
        if self.temporal:
            self.head = nn.Conv1d(w[-1], latent_grid(cfg, window)[0], 1)
        else:
            self.head = nn.Linear(w[-1] * (window >> cfg.scales), out_dim)
        acai_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, out_dim), or for a temporal latent (B, channels, T / 2^scales) for any T
        divisible by 2^scales (the encoder is then convolutional throughout)."""
        features = self.features(x)
        return self.head(features) if self.temporal else self.head(features.flatten(1))


class Decoder1d(nn.Module):
    """(B, latent_dim) -> (B, out_channels, T) logits."""

    def __init__(self, cfg: ModelConfig, out_channels: int, window: int):
        super().__init__()
        w = cfg.widths()
        pad = cfg.kernel // 2
        self.start = (w[-1], window >> cfg.scales)
        if cfg.latent_layout == "temporal":
            self.grid = latent_grid(cfg, window)
            self.head = nn.Conv1d(self.grid[0], w[-1], 1)
        else:
            self.grid = None
            self.head = nn.Linear(cfg.latent_dim, w[-1] * self.start[1])
        layers: list[nn.Module] = [_act()]
        for s in reversed(range(cfg.scales)):
            up = (nn.ConvTranspose1d(w[s + 1], w[s + 1], 2, stride=2) if cfg.upsample == "learned"
                  else nn.Upsample(scale_factor=2, mode="nearest"))
            if cfg.block == "residual":
                layers += [up, Residual1d(w[s + 1], w[s], cfg.kernel)]
            else:
                layers += [up, nn.Conv1d(w[s + 1], w[s], cfg.kernel, padding=pad), _act(),
                           nn.Conv1d(w[s], w[s], cfg.kernel, padding=pad), _act()]
        layers.append(nn.Conv1d(w[0], out_channels, cfg.kernel, padding=pad))
        self.body = nn.Sequential(*layers)
        acai_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.grid is not None:
            return self.decode_map(z.reshape(z.shape[0], *self.grid))
        return self.body(self.head(z).reshape(z.shape[0], *self.start))

    def decode_map(self, z: torch.Tensor) -> torch.Tensor:
        """Temporal latents only: (B, channels, positions) of any length -> (B, out_channels, positions *
        2^scales) logits; the decoder is convolutional throughout, so a whole song decodes at once."""
        return self.body(self.head(z))


class Encoder2d(nn.Module):
    """ACAI's image encoder: (B, C, 32, 32) -> (B, latent_channels, 32/2^s, 32/2^s)."""

    def __init__(self, cfg: ModelConfig, in_channels: int, out_channels: int | None = None):
        super().__init__()
        depth = cfg.width
        layers: list[nn.Module] = [nn.Conv2d(in_channels, depth, 1)]
        width = depth
        for s in range(cfg.scales):
            layers += [nn.Conv2d(width, depth << s, 3, padding=1), _act(),
                       nn.Conv2d(depth << s, depth << s, 3, padding=1), _act(), nn.AvgPool2d(2)]
            width = depth << s
        layers += [nn.Conv2d(width, depth << cfg.scales, 3, padding=1), _act(),
                   nn.Conv2d(depth << cfg.scales, out_channels or cfg.latent_channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)
        acai_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder2d(nn.Module):
    """ACAI's image decoder: latent map -> (B, C, 32, 32), linear output (images live in [-1, 1])."""

    def __init__(self, cfg: ModelConfig, out_channels: int):
        super().__init__()
        depth = cfg.width
        layers: list[nn.Module] = []
        width = cfg.latent_channels
        for s in reversed(range(cfg.scales)):
            layers += [nn.Conv2d(width, depth << s, 3, padding=1), _act(),
                       nn.Conv2d(depth << s, depth << s, 3, padding=1), _act(),
                       nn.Upsample(scale_factor=2, mode="nearest")]
            width = depth << s
        layers += [nn.Conv2d(width, depth, 3, padding=1), _act(), nn.Conv2d(depth, out_channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)
        acai_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Autoencoder(nn.Module):
    """Encoder + decoder. ``encode`` gives flat codes (B, d) for either kind, so latent regularizers
    and interpolation treat images and music alike."""

    def __init__(self, cfg: ModelConfig, channels: int, window: int = 32):
        super().__init__()
        self.cfg = cfg
        self.window = window
        self.head = None
        if cfg.kind == "conv1d":
            self.encoder = Encoder1d(cfg, channels, window, cfg.latent_dim)
            if cfg.head == "causal":
                from .event_head import CausalHead

                self.decoder = Decoder1d(cfg, cfg.width, window)  # features per frame for the head
                self.head = CausalHead(cfg.width, channels, cfg.head_width, cfg.head_layers, cfg.head_dropout,
                                       cfg.head_blank)
            else:
                self.decoder = Decoder1d(cfg, channels, window)
            self.latent_shape: tuple[int, ...] = (latent_grid(cfg, window) if cfg.latent_layout == "temporal"
                                                  else (cfg.latent_dim,))
        else:
            side = window >> cfg.scales
            self.encoder = Encoder2d(cfg, channels)
            self.decoder = Decoder2d(cfg, channels)
            self.latent_shape = (cfg.latent_channels, side, side)

    @property
    def latent_dim(self) -> int:
        return math.prod(self.latent_shape)

    @property
    def fully_convolutional(self) -> bool:
        """Whether the code is a map over time that the encoder and decoder take at any length."""
        return self.cfg.kind == "conv1d" and self.cfg.latent_layout == "temporal"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x).flatten(1)

    def regularizer_samples(self, z: torch.Tensor) -> torch.Tensor:
        """What the latent regularizer compares with its prior: the codes (B, d), or for a temporal
        latent every position of every code (B * positions, channels), so a batch of 64 windows gives
        hundreds of samples of a few dimensions and the estimate is free of the batch-size bias a
        64-sample batch of 64-d codes has (WWAE needs samples well above the dimension)."""
        if self.cfg.kind == "conv1d" and self.cfg.latent_layout == "temporal":
            channels, positions = self.latent_shape
            return z.reshape(-1, channels, positions).transpose(1, 2).reshape(-1, channels)
        return z

    def _decoded(self, z: torch.Tensor, joined: bool = False) -> torch.Tensor:
        """The decoder's output for codes (B, d), or with ``joined`` a code map (B, channels, positions):
        logits, or with a causal head the features it reads."""
        return self.decoder.decode_map(z) if joined else self.decoder(z.reshape(z.shape[0], *self.latent_shape))

    def decode(self, z: torch.Tensor, joined: bool = False) -> torch.Tensor:
        """Logits of codes (B, d) (``joined``: of a code map); with a causal head, from the code alone (no
        frame before known)."""
        out = self._decoded(z, joined)
        return out if self.head is None else self.head(out, None)

    def decode_map(self, z: torch.Tensor) -> torch.Tensor:
        """Temporal latents: logits of a code map (B, channels, positions) of any length (``decode``)."""
        return self.decode(z, joined=True)

    def generate(self, z: torch.Tensor, choose, joined: bool = False) -> torch.Tensor:
        """Logits as decoded frame by frame (a causal head; ``CausalHead.generate``) of codes (B, d), or
        with ``joined`` of a code map (B, channels, positions); ``decode`` for a model without one."""
        if self.head is None:
            return self.decode(z, joined)
        return self.head.generate(self._decoded(z, joined), choose)

    def interpolate(self, a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
        """Decoded outputs (pairs, steps, ...) at evenly spaced points of the straight line from each
        a[i]'s code to b[i]'s, both ends included (the first and last are the reconstructions)."""
        za, zb = self.encode(a), self.encode(b)
        t = torch.linspace(0.0, 1.0, steps, device=za.device, dtype=za.dtype).view(1, -1, 1)
        path = (1 - t) * za[:, None] + t * zb[:, None]  # (pairs, steps, d)
        out = self.decode(path.reshape(-1, za.shape[1]))
        return out.reshape(len(za), steps, *out.shape[1:])

    def forward(self, x: torch.Tensor, alpha: torch.Tensor | None = None):
        """Codes, reconstruction and, given ``alpha``, the decoded ACAI mixes, in one forward pass. With a
        causal head the reconstruction hears the true frames before (teacher forcing, some hidden while
        training), the mixes nothing but their code."""
        z = self.encode(x)
        codes = z if alpha is None else torch.cat([z, acai_mix(z, alpha.to(z.dtype))])
        if self.head is None:
            both = self.decode(codes)
            return z, both[: len(z)], None if alpha is None else both[len(z):]
        features = self._decoded(codes)
        previous = self.head.shift(x)
        recon = self.head(features[: len(z)], self.head.masked(previous) if self.training else previous)
        return z, recon, None if alpha is None else self.head(features[len(z):], None)


class Critic(nn.Module):
    """ACAI's critic: the encoder's shape, its output averaged to one scalar per sample."""

    def __init__(self, cfg: ModelConfig, channels: int, window: int = 32):
        super().__init__()
        if cfg.kind == "conv1d":
            self.encoder = Encoder1d(cfg, channels, window, cfg.latent_dim)
        else:
            self.encoder = Encoder2d(cfg, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x).flatten(1).mean(dim=1)
