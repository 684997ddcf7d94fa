"""Objective scores of interpolations (../shared/docs/evaluation.md), one module per benchmark:
``music`` (NES scores, section 3), ``lines`` (the ACAI lines benchmark, section 1) and ``mnist``
(the downstream probe and clustering checks, section 2). Pure functions on arrays; no training here.
"""

from .lines import closest_lines, interpolation_smoothness, lines_scores
from .mnist import assign_clusters, clustering_accuracy, kmeans, linear_probe, whiten
from .music import (
    VOICE_FEATURES, cell_distance, corpus_ranges, crossfade_path, endpoint_curves, interpolation_report,
    monotonicity_violations, note_accuracy, onset_f1, onsets, pitch_class_histogram, pitch_class_morph, realism,
    step_smoothness, voice_statistics, within_ranges,
)

__all__ = [
    "assign_clusters", "clustering_accuracy", "kmeans", "linear_probe", "whiten",
    "VOICE_FEATURES", "cell_distance", "closest_lines", "corpus_ranges", "crossfade_path", "endpoint_curves",
    "interpolation_report", "interpolation_smoothness", "lines_scores", "monotonicity_violations", "note_accuracy",
    "onset_f1", "onsets", "pitch_class_histogram", "pitch_class_morph", "realism", "step_smoothness",
    "voice_statistics", "within_ranges",
]
