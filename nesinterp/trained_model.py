"""TrainedModel: a trained music autoencoder behind the verbs every tool uses — encode, decode,
interpolate, reconstruct — loaded from a run directory, a model file, or the bundled default.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from .checkpoint import CheckpointError, export_model, load_autoencoder, model_files
from .decoding import Decoding, representation_from_meta
from .representation import Representation
from .explore import ExploreVerbs
from .latent import latent_path, slerp
from .models import Autoencoder
from .refine import bf16_refinement
from .score import Score

PRETRAINED = Path(__file__).resolve().parent / "pretrained"


class TrainedModel(ExploreVerbs):
    """A music autoencoder ready to use. ``TrainedModel.load()`` gives the bundled default."""

    def __init__(self, autoencoder: Autoencoder, representation: Representation, meta: dict, source: str):
        self.autoencoder = autoencoder.eval()
        self.representation = representation
        self.meta = meta
        self.source = source
        # how it decodes (model.json "decoding", ``nesinterp.decoding``): the code refinement steps and step
        # size its thresholds were calibrated for, what encode, reconstruct and interpolate use unless told
        # otherwise; and whether volumes and timbres come from a second code of each window, refined for
        # them alone (``nesinterp.refine``)
        self.decoding = Decoding.from_meta(meta)
        self.refine_steps = self.decoding.refine_steps
        self.refine_lr = self.decoding.refine_lr
        self.expression_codes = self.decoding.expression_codes and representation.expressive

    @property
    def window(self) -> int:
        return self.representation.window

    @property
    def latent_dim(self) -> int:
        return self.autoencoder.latent_dim

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "cpu") -> TrainedModel:
        """Load a trained music model.

        Args:
            path: a run directory, ``model.safetensors`` or ``model.json``; None for the bundled model.
            device: "cpu" or "cuda".
        Returns:
            The TrainedModel.
        Raises:
            CheckpointError: the files are missing, unreadable or not a music model.
        """
        source = Path(path) if path is not None else PRETRAINED
        autoencoder, meta, _cfg = load_autoencoder(source, device, task="music")
        try:
            rep = representation_from_meta(meta)
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{source}: model description is incomplete or invalid ({exc})") from None
        if rep.channels != autoencoder.encoder.features[0].in_channels:
            raise CheckpointError(f"{source}: channel count does not match the representation")
        return cls(autoencoder, rep, meta, str(source))

    @property
    def device(self) -> torch.device:
        return next(self.autoencoder.parameters()).device

    # --- Scores and windows ------------------------------------------------------------------------
    def windows_of(self, music) -> np.ndarray:
        """uint8 windows (n, window, 4, 3) of ``music``: a Score (cut into consecutive windows, the last
        padded with silence, as ``blend --whole`` does), a list of Scores (their windows in order), or
        windows already (n, window, 4, 3) or one (window, 4, 3).

        Raises:
            ValueError: an array whose frame count is not the model's window (it names the window).
        """
        from .windows import score_windows

        if isinstance(music, Score):
            return score_windows(music, self.window)
        if isinstance(music, (list, tuple)) and music and all(isinstance(m, Score) for m in music):
            return np.concatenate([score_windows(m, self.window) for m in music])
        array = np.asarray(music)
        if array.ndim == 3:
            array = array[None]
        if array.ndim != 4 or array.shape[2:] != (4, 3) or array.dtype != np.uint8:
            raise ValueError(f"expected a Score, a list of Scores or uint8 windows (n, {self.window}, 4, 3), "
                             f"not {type(music).__name__} {getattr(array, 'shape', '')}")
        if array.shape[1] != self.window:
            raise ValueError(f"windows of {array.shape[1]} frames: this model reads windows of {self.window} "
                             "frames (pass a Score to have it cut into windows)")
        return array

    def encode(self, music, refine: int | None = None) -> torch.Tensor:
        """Latent codes of ``music``.

        Args:
            music: a Score, a list of Scores or uint8 windows (see ``windows_of``).
            refine: gradient steps that move each code to where the decoder reconstructs its window
                better (``nesinterp.refine``); 0: the encoder's codes; None: the model's ``refine_steps``
                (model.json; the bundled model's 40, for which its decoding was calibrated).
        Returns:
            Codes (n, latent_dim), one per window.
        """
        return self._codes(self.windows_of(music), refine)[0]

    def codes(self, windows: np.ndarray, refine: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(codes, expression codes or None), each (n, latent_dim), of uint8 windows (n, window, 4, 3):
        what ``reconstruct`` and ``interpolate`` decode, for callers that reuse them (``decode_windows``
        takes both back)."""
        return self._codes(self.windows_of(windows), refine)

    def _codes(self, windows: np.ndarray, refine: int | None, joined: bool = False):
        """(codes, expression codes or None) of windows (n, window, 4, 3), each (n, latent_dim): refined
        for ``refine`` steps (None: the model's), and, for a model with ``expression_codes``, a second
        code per window refined from the same start for the volume and timbre heads alone. ``joined``:
        consecutive windows of one song, encoded and refined as one sequence (``encode_joined``)."""
        from .refine import refine_codes

        n = len(windows)
        if joined:
            windows = np.asarray(windows).reshape(1, -1, 4, 3)
        decode = self.refinement_decoder(joined, n)
        with torch.no_grad():
            z = (self.autoencoder.encoder if joined else self.autoencoder.encode)(self._inputs(windows))
        steps = self.refine_steps if refine is None else refine
        if steps <= 0:
            notes, expression = z, None
        else:
            target = self._tensor(windows)
            notes = refine_codes(decode, self.representation, z, target, steps, self.refine_lr)
            expression = (refine_codes(decode, self.representation, z, target, steps, self.refine_lr, "expression")
                          if self.expression_codes else None)
        if not joined:
            return notes, expression
        channels, positions = self.autoencoder.latent_shape

        def window_codes(c):  # the code map (1, channels, n x positions) as n window codes, laid out as encode's
            return c.reshape(channels, n, positions).permute(1, 0, 2).reshape(n, channels * positions)

        return window_codes(notes), None if expression is None else window_codes(expression)

    @torch.no_grad()
    def window_logits(self, windows: np.ndarray, refine: int | None = None, batch: int = 256) -> torch.Tensor:
        """The decoder's logits (n, channels, window) on the CPU of uint8 windows (n, window, 4, 3),
        ``batch`` at a time, from their codes as ``reconstruct`` finds them (``refine``: as in ``encode``;
        expression codes when the model has them): what the decode settings are chosen on
        (``nesinterp.calibration``, and training's calibration at every checkpoint)."""
        windows = self.windows_of(windows)
        out = []
        for i in range(0, len(windows), batch):
            with torch.enable_grad():
                codes, expression = self._codes(windows[i:i + batch], refine)
            out.append(self._logits(codes, expression))
        return torch.cat(out)

    def refinement_decoder(self, joined: bool = False, windows: int = 1):
        """codes -> logits, as refinement of ``windows`` windows runs it (under bf16 autocast where
        ``refine.bf16_refinement``): windows' codes (n, latent_dim), or with ``joined`` a song's code map."""
        plain = self.autoencoder.decode_map if joined else self.autoencoder.decode
        if not bf16_refinement(self.device, windows):
            return plain

        def decode(codes):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return plain(codes)
        return decode

    def _logits(self, codes: torch.Tensor, expression: torch.Tensor | None, joined: bool = False,
                temperature: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """The decoder's logits of codes (or, ``joined``, code maps), on the CPU, with the expression heads
        from ``expression``'s if given. A causal head decodes frame by frame: greedily, or drawing each
        frame at ``temperature`` (then the logits are the draws, so reading them back picks the same)."""
        ae = self.autoencoder
        if ae.head is not None:
            choose = self.representation.chooser(temperature, generator)
            logits = ae.generate(codes, choose, joined).float().cpu()
            return self.representation.hard(logits) * 1e4 if temperature > 0 else logits
        decode = ae.decode_map if joined else ae.decode
        logits = decode(codes).float().cpu()
        if expression is None:
            return logits
        return self.representation.with_expression(logits, decode(expression).float().cpu())

    def _inputs(self, windows: np.ndarray) -> torch.Tensor:
        """The network input (B, channels, T) of uint8 windows (B, T, 4, 3), on the model's device."""
        return self.representation.one_hot(self.representation.targets(self._tensor(windows)))

    def _tensor(self, windows: np.ndarray) -> torch.Tensor:
        """uint8 windows as a tensor (a copy) on the model's device."""
        return torch.tensor(np.asarray(windows), dtype=torch.uint8, device=self.device)

    @torch.no_grad()
    def decode_windows(self, codes: torch.Tensor, temperature: float = 0.0, seed: int | None = None,
                       expression: torch.Tensor | None = None) -> np.ndarray:
        """uint8 windows (n, window, 4, 3) of codes (n, latent_dim): argmax, or sampled at
        ``temperature`` with ``seed``; volumes and timbres from ``expression`` codes if given."""
        device = lambda c: torch.as_tensor(c, dtype=torch.float32).to(self.device)  # noqa: E731
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        logits = self._logits(device(codes), None if expression is None else device(expression),
                              temperature=temperature, generator=gen)
        return self.representation.decode(logits, temperature=temperature, generator=gen)

    def decode(self, codes, temperature: float = 0.0, seed: int | None = None) -> list[Score]:
        """One Score per code.

        Args:
            codes: (n, latent_dim) tensor or array, or one code (latent_dim,).
            temperature: 0 decodes the most likely notes; above 0 samples them.
            seed: the sampling seed.
        Returns:
            n Scores of ``window`` frames each.
        """
        codes = torch.as_tensor(codes, dtype=torch.float32)
        codes = codes[None] if codes.ndim == 1 else codes
        return [Score(w, f"decoded-{i}", "nesinterp.decode")
                for i, w in enumerate(self.decode_windows(codes, temperature, seed))]

    def as_heard(self, windows: np.ndarray) -> np.ndarray:
        """The windows as the model sees them: notes kept; velocity and timbre as the model would decode
        them (their typical values, unless the model is expressive). The input is certain, so it is read
        without the onset thresholds, sounding biases and volume tilts chosen for the decoder's uncertain
        logits (a threshold below 0.5 would fire an onset on every frame, a bias above 1 sound every
        silence, a volume tilt play every note louder)."""
        exact = replace(self.representation, onset_threshold=(0.5,) * 4, sounding_bias=(0.0,) * 4,
                        volume_tilt=(0.0,) * 4)
        return exact.decode(self._inputs(windows).cpu())

    def encode_joined(self, windows: np.ndarray, refine: int | None = None) -> torch.Tensor:
        """Codes (n, latent_dim) of consecutive windows (n, window, 4, 3) of one song, encoded as one
        sequence by a fully convolutional model (each window's code sees its neighbours' frames, where
        ``encode`` pads every window with silence). Code i is window i's, laid out as ``encode``'s.
        ``refine``: as in ``encode``, the song's code map refined as one sequence."""
        return self._codes(windows, refine, joined=True)[0]

    @torch.no_grad()
    def decode_joined(self, codes, temperature: float = 0.0, seed: int | None = None, expression=None) -> np.ndarray:
        """Consecutive windows (n, window, 4, 3) of one song from their codes (n, latent_dim), or of k songs
        (k, n, window, 4, 3) from (k, n, latent_dim), each song decoded as one sequence by a fully
        convolutional model, so no seam shows where one window meets the next. ``expression``: as in
        ``decode_windows``."""
        channels, positions = self.autoencoder.latent_shape

        def code_map(c):  # (k, channels, n x positions)
            c = torch.as_tensor(c, dtype=torch.float32, device=self.device)
            c = c[None] if c.ndim == 2 else c
            return c.reshape(*c.shape[:2], channels, positions).permute(0, 2, 1, 3).reshape(len(c), channels, -1)

        single = len(codes.shape) == 2
        k, n = (1, codes.shape[0]) if single else tuple(codes.shape[:2])
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        logits = self._logits(code_map(codes), None if expression is None else code_map(expression), True,
                              temperature, gen)
        out = self.representation.decode(logits, temperature=temperature, generator=gen)
        out = out.reshape(k, n, self.window, 4, 3)
        return out[0] if single else out

    def interpolate(self, a, b, steps: int, mode: str = "slerp", temperature: float = 0.0,
                    seed: int | None = None, joined: bool = False, refine: int | None = None):
        """``steps`` points from A to B (both endpoints counted: the first reconstructs A, the last B),
        decoded from codes on the straight (lerp) or great-circle (slerp) path between their codes.

        Args:
            a, b: Scores (cut into windows; the shorter repeated from its start to the longer's length, as
                ``blend --whole`` does), or single windows (window, 4, 3), or equally long stacks of them.
            steps: at least 2.
            mode: "slerp" (default, as MusicVAE) or "lerp".
            temperature, seed: as in ``decode``.
            joined: stacks are consecutive windows of one song each (as ``blend --whole`` cuts them):
                a fully convolutional model (temporal latent) then encodes and decodes each step as one
                sequence, without seams between windows; other models ignore it. Scores are always
                joined.
            refine: the endpoints' codes refined by this many steps (see ``encode``).
        Returns:
            For Scores: a list of ``steps`` Scores, each joining the interpolants of every window pair.
            For arrays: (steps, n, window, 4, 3) for stacks, (steps, window, 4, 3) for single windows.
        """
        if steps < 2:
            raise ValueError("steps must be at least 2 (the two endpoints)")
        if mode not in ("slerp", "lerp"):
            raise ValueError(f"mode must be slerp or lerp, not {mode!r}")
        if isinstance(a, Score) and isinstance(b, Score):
            from .windows import paired_windows

            path = self.interpolate(*paired_windows(a, b, self.window), steps, mode, temperature, seed, joined=True,
                                    refine=refine)
            return [Score(np.ascontiguousarray(p.reshape(-1, 4, 3)), f"step-{k}-of-{steps}", "nesinterp.trained_model")
                    for k, p in enumerate(path)]
        return self.medley([a, b], steps, mode, temperature, seed, joined, refine)  # a walk of one leg

    def decode_paths(self, codes: torch.Tensor, expression: torch.Tensor | None = None, joined: bool = False,
                     temperature: float = 0.0, seed: int | None = None) -> np.ndarray:
        """uint8 windows (m, n, window, 4, 3) of m sets of n codes (m, n, latent_dim): the steps of a path
        (or the cells of a grid), each set of n consecutive windows decoded as one sequence with ``joined``
        (a fully convolutional model), else window by window. ``expression``: as in ``decode_windows``."""
        if joined and self.autoencoder.fully_convolutional:
            return self.decode_joined(codes, temperature, seed, expression)  # each set one sequence
        m, n = codes.shape[:2]
        flat = lambda p: None if p is None else p.reshape(m * n, -1)  # noqa: E731
        out = self.decode_windows(flat(codes), temperature, seed, flat(expression))
        return out.reshape(m, n, self.window, 4, 3)

    def reconstruct(self, music, refine: int | None = None):
        """What the model makes of ``music`` through its code.

        Args:
            music: a Score, a list of Scores, or uint8 windows.
            refine: the codes refined by this many steps (see ``encode``).
        Returns:
            The same kind: a Score as long as the input (windows joined), a list of them, or windows.
        """
        if isinstance(music, Score):
            windows = self.windows_of(music)
            joined = self.autoencoder.fully_convolutional  # one sequence, no seams
            codes, expression = self._codes(windows, refine, joined)
            decode = self.decode_joined if joined else self.decode_windows
            out = decode(codes, expression=expression)
            joined = out.reshape(-1, 4, 3)[: music.frames]
            return Score(np.ascontiguousarray(joined), music.name, "nesinterp.reconstruct")
        if isinstance(music, (list, tuple)) and music and all(isinstance(m, Score) for m in music):
            return [self.reconstruct(m, refine) for m in music]
        codes, expression = self._codes(self.windows_of(music), refine)
        return self.decode_windows(codes, expression=expression)

    def describe(self) -> dict:
        cfg = self.meta.get("config", {})
        return {
            "source": self.source,
            "name": cfg.get("name"),
            "step": self.meta.get("step"),
            "latent_dim": self.latent_dim,
            "window_frames": self.window,
            "refine_steps": self.refine_steps,
            "refine_lr": self.refine_lr,
            "expression_codes": self.expression_codes,
            "acai": cfg.get("acai", {}).get("enabled"),
            "regularizer": cfg.get("regularizer", {}).get("kind"),
            "data": {k: v for k, v in (self.meta.get("data") or {}).items()
                     if k not in ("realism_reference", "realism_ranges")},
        }

    def realism_reference(self):
        """The training corpus's realism reference (model.json), or None for a model saved without one
        (models trained before realism v2 stored 5-95 % feature ranges instead, which are no longer used)."""
        from .metrics.realism import RealismReference

        saved = (self.meta.get("data") or {}).get("realism_reference")
        if not saved:
            return None
        try:
            return RealismReference.from_dict(saved)
        except ValueError:
            return None


__all__ = ["PRETRAINED", "TrainedModel", "export_model", "latent_path", "load_autoencoder", "model_files", "slerp"]
