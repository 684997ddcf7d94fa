"""Objective scores of interpolations (../shared/docs/evaluation.md), one module per benchmark:
``music`` (NES scores, section 3), ``lines`` (the ACAI lines benchmark, section 1) and ``mnist``
(the downstream probe and clustering checks, section 2). Pure functions on arrays; no training here.
"""

from .music import (
    cell_distance, crossfade_path, endpoint_curves, interpolation_report, monotonicity_violations,
    note_accuracy, onset_f1, onsets, step_smoothness,
)

__all__ = [
    "cell_distance", "crossfade_path", "endpoint_curves", "interpolation_report", "monotonicity_violations",
    "note_accuracy", "onset_f1", "onsets", "step_smoothness",
]
