"""Beyond two songs: what else lives in a trained model's latent space. ``TrainedModel`` gets these
verbs from ``ExploreVerbs``: ``sample`` (codes drawn from the prior), ``medley`` (A -> B -> C ...),
``grid`` (bilinear between four songs) and ``shift`` (a song moved along an attribute vector,
``nesinterp.attributes``). Each takes Scores and gives Scores, or takes windows and gives windows, as
``interpolate`` does; the files and pages around them are ``nesinterp.gallery``'s.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .attributes import shift_codes
from .windows import aligned_windows
from .latent import grid_codes, medley_path
from .score import FRAME_RATE, Score


class ExploreVerbs:
    """The verbs beyond two songs, mixed into ``TrainedModel`` (they use its codes and decoders)."""

    def sample(self, n: int = 1, seed: int = 0, temperature: float = 0.0, seconds: float | None = None) -> list[Score]:
        """``n`` Scores decoded from codes drawn from the prior the latent regularizer pulls the codes
        towards (a standard normal). A model trained without a regularizer has no such prior, and its
        samples mean little.

        Args:
            n: how many.
            seed: seed of the codes (and of the notes, with ``temperature``).
            temperature: as in ``decode``.
            seconds: each sample a song this long: one code per window, drawn alike, decoded as one
                sequence by a fully convolutional model; None: one window each.
        Returns:
            n Scores of ``window`` frames each, or of ``seconds``.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, not {n}")
        if seconds is not None and seconds <= 0:
            raise ValueError(f"seconds must be above 0, not {seconds}")
        frames = self.window if seconds is None else max(1, round(seconds * FRAME_RATE))
        gen = torch.Generator().manual_seed(seed)
        codes = torch.randn(n, math.ceil(frames / self.window), self.latent_dim, generator=gen)
        out = self.decode_paths(codes, None, joined=True, temperature=temperature, seed=seed)
        return [Score(np.ascontiguousarray(w.reshape(-1, 4, 3)[:frames]), f"sample-{i}", "nesinterp.sample")
                for i, w in enumerate(out)]

    def medley(self, songs: list, steps: int, mode: str = "slerp", temperature: float = 0.0,
               seed: int | None = None, joined: bool = False, refine: int | None = None):
        """A walk from the first song through each of the others in turn: ``steps`` points a leg, both
        ends counted, the songs between two legs once: (len(songs) - 1) x (steps - 1) + 1 points.
        Two songs are ``interpolate``.

        Args:
            songs: Scores (cut into windows, the shorter repeated to the longest's length), or single
                windows (window, 4, 3), or equally long stacks of them.
            steps, mode, temperature, seed, joined, refine: as in ``interpolate``.
        Returns:
            For Scores: a list of Scores; for arrays: (points, n, window, 4, 3), or (points, window, 4, 3)
            for single windows.
        """
        if len(songs) < 2:
            raise ValueError(f"a medley needs at least two songs, not {len(songs)}")
        stacks, single, joined = self._stacks(songs, joined)
        codes = [self._codes(s, refine, joined) for s in stacks]
        path = medley_path([z for z, _ in codes], steps, mode)
        expression = None if codes[0][1] is None else medley_path([e for _, e in codes], steps, mode)
        out = self.decode_paths(path, expression, joined, temperature, seed)
        return self._as_given(out, songs, single, "step")

    def grid(self, a, b, c, d, size: int = 5, temperature: float = 0.0, seed: int | None = None,
             joined: bool = False, refine: int | None = None):
        """The bilinear blend of four songs: A top left, B top right, C bottom left, D bottom right, the
        corners their own reconstructions.

        Args:
            a, b, c, d: as ``medley``'s songs.
            size: cells a side (at least 2).
            temperature, seed, joined, refine: as in ``interpolate``.
        Returns:
            Row by row from the top: for Scores a list of ``size`` rows of ``size`` Scores; for arrays
            (size, size, n, window, 4, 3), or (size, size, window, 4, 3) for single windows.
        """
        if size < 2:
            raise ValueError(f"size must be at least 2, not {size}")
        stacks, single, joined = self._stacks([a, b, c, d], joined)
        codes = [self._codes(s, refine, joined) for s in stacks]
        cells = grid_codes(*[z for z, _ in codes], size)
        expression = None if codes[0][1] is None else grid_codes(*[e for _, e in codes], size)
        out = self.decode_paths(cells, expression, joined, temperature, seed)
        flat = self._as_given(out, [a, b, c, d], single, "cell")
        if isinstance(flat, list):
            return [flat[r * size:(r + 1) * size] for r in range(size)]
        return flat.reshape(size, size, *flat.shape[1:])

    def shift(self, music, attribute: str, amounts, temperature: float = 0.0, seed: int | None = None,
              refine: int | None = None):
        """``music`` moved along an attribute's direction (``nesinterp.attributes``; ``attributes.json``
        beside the model): one version per amount, in units of the direction (1 moves a code by the
        difference between the mean codes of the top and the bottom quarter of training windows).

        Args:
            music: a Score (every window moved alike, decoded as one sequence) or windows.
            attribute: a name of ``nesinterp.attributes.ATTRIBUTES`` (or "density").
            amounts: the amounts, e.g. ``numpy.linspace(-1.5, 1.5, 5)``.
            temperature, seed, refine: as in ``interpolate``.
        Returns:
            For a Score a list of Scores, one per amount; for windows (amounts, n, window, 4, 3), or
            (amounts, window, 4, 3) for a single window.
        Raises:
            AttributeVectorError: the model has no attribute vectors, or none of that name.
        """
        vector = self.attribute_vector(attribute)
        stacks, single, joined = self._stacks([music], True)
        z, expression = self._codes(stacks[0], refine, joined)
        amounts = torch.as_tensor(np.asarray(amounts, np.float32))
        direction = torch.as_tensor(vector, dtype=torch.float32, device=z.device)
        # A model with expression codes has its volumes moved alike (measured: a shift of the note codes
        # alone decodes every version quieter than the song, 6.4 against 8.0).
        moved = [None if c is None else shift_codes(c, direction, amounts) for c in (z, expression)]
        out = self.decode_paths(moved[0], moved[1], joined, temperature, seed)
        return self._as_given(out, [music], single, "shift")

    def attribute_vector(self, attribute: str) -> np.ndarray:
        """The direction (latent_dim,) of ``attribute`` in this model's attributes.json.

        Raises:
            AttributeVectorError: the model has none (``nesinterp attributes RUN`` makes them), or none
                of that name.
        """
        from .attributes import AttributeVectorError, attributes_path, vectors_for

        vectors = vectors_for(self)
        if vectors is None:
            raise AttributeVectorError(f"{attributes_path(self.source)}: no attribute vectors for this model; "
                                       f"make them with: nesinterp attributes {self.source}")
        return vectors.vector(attribute)

    def _stacks(self, songs: list, joined: bool) -> tuple[list[np.ndarray], bool, bool]:
        """(window stacks of equal length, whether the songs were single windows, whether to decode
        each point as one sequence): Scores are aligned and always joined."""
        if all(isinstance(s, Score) for s in songs):
            return aligned_windows(songs, self.window), False, self.autoencoder.fully_convolutional
        if any(isinstance(s, Score) for s in songs):
            raise ValueError("give Scores or windows, not both")
        single = np.ndim(songs[0]) == 3
        stacks = [self.windows_of(s) for s in songs]
        if len({len(s) for s in stacks}) != 1:
            raise ValueError(f"stacks of different lengths ({', '.join(str(len(s)) for s in stacks)} windows)")
        return stacks, single, joined and self.autoencoder.fully_convolutional

    def _as_given(self, out: np.ndarray, songs: list, single: bool, name: str):
        """(points, n, window, 4, 3) as Scores (each point's windows joined, as long as the longest
        song) when the songs were Scores, else as windows."""
        if not isinstance(songs[0], Score):
            return out[:, 0] if single else out
        frames = max(s.frames for s in songs)
        return [Score(np.ascontiguousarray(p.reshape(-1, 4, 3)[:frames]), f"{name}-{k}", f"nesinterp.{name}")
                for k, p in enumerate(out)]
