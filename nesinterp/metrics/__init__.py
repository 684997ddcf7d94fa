"""Objective scores of interpolations (docs/scores.md), one module per benchmark:
``music`` (NES scores, section 3) with ``realism`` (set-level comparison with real windows) and
``baselines`` (what a score is worth without a model), ``lines`` (the ACAI lines benchmark, section 1)
and ``mnist`` (the downstream probe and clustering checks, section 2). Pure functions on arrays; no
training here.
"""

from .baselines import always_rest, constant_note, hold_every, random_notes, reconstruction_baselines
from .lines import closest_lines, interpolation_smoothness, lines_scores
from .mnist import assign_clusters, clustering_accuracy, kmeans, linear_probe, whiten
from .music import (
    cell_distance, crossfade_path, endpoint_curves, interpolation_report, monotonicity_violations, note_accuracy,
    onset_f1, onset_matches, onset_ratio, onsets, pitch_accuracy_sounding, pitch_class_histogram,
    pitch_class_morph, reconstruction_scores, sounding_share, step_report, step_smoothness,
)
from .realism import FEATURES, RealismReference, note_events, realism, typicality, window_features

__all__ = [
    "FEATURES", "RealismReference", "always_rest", "assign_clusters", "cell_distance", "closest_lines",
    "clustering_accuracy", "constant_note", "crossfade_path", "endpoint_curves", "hold_every",
    "interpolation_report", "interpolation_smoothness", "kmeans", "linear_probe", "lines_scores",
    "monotonicity_violations", "note_accuracy", "note_events", "onset_f1", "onset_matches", "onset_ratio",
    "onsets", "pitch_accuracy_sounding", "pitch_class_histogram", "pitch_class_morph", "random_notes",
    "realism", "reconstruction_baselines", "reconstruction_scores", "sounding_share", "step_report",
    "step_smoothness", "typicality", "whiten", "window_features",
]
