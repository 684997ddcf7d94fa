"""Hypothesis strategies: random but valid Scores."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nesinterp.score import NOTE_RANGE, Score, Voice


@st.composite
def scores(draw, max_frames=200):
    frames = draw(st.integers(1, max_frames))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a = np.zeros((frames, 4, 3), np.uint8)
    for voice in Voice:
        lo, hi = NOTE_RANGE[voice]
        # runs of held notes, so note boundaries, volume changes and silences all occur
        change = rng.random(frames) < draw(st.sampled_from([0.05, 0.3, 1.0]))
        change[0] = True
        run = np.cumsum(change) - 1
        nruns = run[-1] + 1
        notes = np.where(rng.random(nruns) < 0.3, 0, rng.integers(lo, hi + 1, nruns))[run]
        a[:, voice, 0] = notes
        if voice != Voice.TR:
            vel = rng.integers(1, 16, frames)
            vel = np.where(rng.random(frames) < 0.5, vel, vel[run])
            a[:, voice, 1] = np.where(notes > 0, vel, 0)
            a[:, voice, 2] = rng.integers(0, 4 if voice != Voice.NO else 2, nruns)[run]
    return Score(a)


__all__ = ["scores", "arrays"]
