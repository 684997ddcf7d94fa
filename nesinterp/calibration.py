"""``nesinterp calibrate RUN``: choose a trained model's decode settings again on the valid split (onset
thresholds, sounding biases and volume tilts, ``articulation.calibrated``), for codes refined as blend
and eval will refine them, and with ``write`` store them, the refinement's steps and step size and the
expression-codes choice in its model.json. Training chooses them at every checkpoint on the encoder's
codes (refine 0), which is cheaper; a model to be used with refined codes is calibrated for them here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import NesinterpError
from .refine import REFINE_LR, REFINE_STEPS


class CalibrationError(NesinterpError):
    """A model that cannot be calibrated; the message says why in one line."""


@dataclass
class Calibration:
    before: dict  # onset_threshold, sounding_bias, volume_tilt as the model had them
    after: dict  # as chosen
    table: list[str]  # Markdown: both settings' onset F1, onsets predicted / true, pitch, sounding, volume
    written: Path | None  # model.json, with ``write``


def calibrate(source: str | Path, data: str | Path = "data/nesmdb", refine: int = REFINE_STEPS,
              refine_lr: float = REFINE_LR, expression_codes: bool | None = None, write: bool = False,
              device: str = "cpu", split: str = "valid") -> Calibration:
    """Choose the decode settings of the music model at ``source`` on the valid split of ``data``.

    Args:
        source: a run directory or model folder (its model.json is what ``write`` updates).
        data: the prepared dataset whose valid split the settings are chosen on.
        refine, refine_lr: the code refinement the settings are chosen for (0: the encoder's codes).
        expression_codes: read volumes and timbres from a second code per window; None: as the model does.
        write: store the settings in model.json.
        split: the split they are chosen on (valid: a model is judged on its valid split, so ties it).
    Raises:
        CalibrationError: a model without an onset head (nothing to calibrate), or bad arguments.
    """
    from data_prep.dataset import Dataset

    from .articulation import calibrated
    from .checkpoint import atomic_write_text, model_files, read_model_meta
    from .decoding import Decoding
    from .evaluate.music import corpus_windows
    from .jsonio import dumps
    from .train.tasks import CALIBRATION_WINDOWS
    from .trained_model import TrainedModel

    if refine < 0 or refine_lr <= 0:
        raise CalibrationError(f"--refine must not be negative and --refine-lr must be above 0, not {refine}, {refine_lr:g}")
    model = TrainedModel.load(source, device=device)
    rep = model.representation
    if not rep.onsets:
        raise CalibrationError(f"{source}: this model has no onset head, so nothing to calibrate")
    truth = corpus_windows(Dataset(data).split(split), model.window, CALIBRATION_WINDOWS)
    expression = model.expression_codes if expression_codes is None else expression_codes
    model.refine_lr, model.expression_codes = refine_lr, bool(expression and rep.expressive)
    logits = model.window_logits(truth, refine)  # the codes blend and eval decode, by their own path
    chosen = calibrated(rep, logits, truth)
    table = _table(rep, chosen, logits, truth)
    written = None
    if write:
        written = model_files(Path(source))[1]
        # the codes these were chosen for: what blend and eval then refine and decode
        decoding = Decoding.of(chosen, refine_steps=refine, refine_lr=refine_lr,
                               expression_codes=bool(expression and rep.expressive))
        atomic_write_text(written, dumps(decoding.written(read_model_meta(written)), indent=2))
    return Calibration(_settings(rep), _settings(chosen), table, written)


def _settings(rep) -> dict:
    return {"onset_threshold": list(rep.onset_threshold), "sounding_bias": list(rep.sounding_bias),
            "volume_tilt": list(rep.volume_tilt)}


def _table(rep, chosen, logits, truth) -> list[str]:
    from .metrics.music import loudness, onset_matches, pitch_accuracy_sounding, sounding_share

    def r(x, digits=3):
        return np.round(x, digits).tolist()

    rows = [f"true sounding share P1 P2 TR NO: {r(sounding_share(truth))}, mean volume where sounding "
            f"P1 P2 NO: {r(loudness(truth)[[0, 1, 3]], 2)}", "",
            "| settings | thresholds | sounding bias | volume tilt | onset F1 (+-1) | onsets predicted / true "
            "| pitch accuracy (sounding) | sounding share | mean volume P1 P2 NO |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, setting in (("before", rep), ("chosen", chosen)):
        decoded = setting.decode(logits)
        tp, n_pred, n_true = onset_matches(decoded, truth, 1)
        rows.append(f"| {name} | {r(setting.onset_threshold)} | {r(setting.sounding_bias)} | {r(setting.volume_tilt)} "
                    f"| {r(2 * tp / np.maximum(n_pred + n_true, 1))} | {r(n_pred / np.maximum(n_true, 1), 2)} "
                    f"| {r(pitch_accuracy_sounding(decoded, truth))} | {r(sounding_share(decoded))} "
                    f"| {r(loudness(decoded)[[0, 1, 3]], 2)} |")
    return rows
