"""Scoring trained models (``nesinterp eval``, ``nesinterp bench``): one module per kind of run -
``music`` (NES-MDB models on a held-out split), ``lines`` and ``mnist`` (the ACAI image benchmarks).
Each loads what it needs, calls the pure functions of ``nesinterp.metrics`` and writes reports.
"""

from .music import VOICES, evaluate_music, held_out_windows

__all__ = ["VOICES", "evaluate_music", "held_out_windows"]
