"""nesinterp: learn a latent space of NES chiptune music and blend one song into another."""

from .score import FRAME_RATE, Score, ScoreError, Voice

__version__ = "0.1.0.dev0"

__all__ = ["FRAME_RATE", "Score", "ScoreError", "Voice", "__version__"]
