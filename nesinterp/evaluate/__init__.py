"""Scoring trained models (``nesinterp eval``, ``nesinterp bench``): one module per kind of run -
``music`` (NES-MDB models on a held-out split), ``lines`` and ``mnist`` (the ACAI image benchmarks).
Each loads what it needs, calls the pure functions of ``nesinterp.metrics`` and writes reports.
"""

from .lines import bench_lines, evaluate_lines
from .music import VOICES, EvalError, evaluate_music, held_out_windows, write_music_report

__all__ = ["VOICES", "EvalError", "bench_lines", "evaluate_lines", "evaluate_music", "held_out_windows",
           "write_music_report"]
