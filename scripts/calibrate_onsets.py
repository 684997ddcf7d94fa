"""Choose a trained model's onset thresholds, sounding biases and volume tilts again on the valid split,
with this version's decoder, on codes refined by --refine steps (default 40, the bundled model's), the
volumes and timbres read from codes of their own with --expression-codes; --write stores them, the step
count and that choice in its model.json, so blend and eval then decode that model as it was calibrated
for. Training chooses them at every checkpoint on the encoder's codes (refine 0), which is cheaper.

    .venv/bin/python scripts/calibrate_onsets.py RUN_OR_MODEL_DIR [--data data/nesmdb] [--refine 40]
        [--expression-codes] [--write]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_prep.dataset import Dataset  # noqa: E402
from nesinterp.articulation import calibrated, window_logits  # noqa: E402
from nesinterp.checkpoint import atomic_write_text, read_model_meta  # noqa: E402
from nesinterp.evaluate.music import corpus_windows  # noqa: E402
from nesinterp.trained_model import TrainedModel, model_files  # noqa: E402
from nesinterp.jsonio import dumps  # noqa: E402
from nesinterp.refine import REFINE_LR, REFINE_STEPS  # noqa: E402
from nesinterp.metrics.music import loudness, onset_matches, pitch_accuracy_sounding, sounding_share  # noqa: E402
from nesinterp.train.tasks import CALIBRATION_WINDOWS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, default=Path("data/nesmdb"))
    parser.add_argument("--write", action="store_true", help="store the thresholds in model.json")
    parser.add_argument("--refine", type=int, default=REFINE_STEPS,
                        help="choose them on codes refined by this many steps, as blend decodes (0: the encoder's)")
    parser.add_argument("--refine-lr", type=float, default=REFINE_LR,
                        help="the refinement's step size (recorded with the steps)")
    parser.add_argument("--expression-codes", action=argparse.BooleanOptionalAction, default=None,
                        help="read volumes and timbres from a second code per window, refined for them alone "
                             "(default: as the model does now)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    model = TrainedModel.load(args.model, device=args.device)
    rep = model.representation
    if not rep.onsets:
        sys.exit(f"{args.model}: this model has no onset head")
    truth = corpus_windows(Dataset(args.data).split("valid"), model.window, CALIBRATION_WINDOWS)
    expression_codes = model.expression_codes if args.expression_codes is None else args.expression_codes
    logits = window_logits(model.autoencoder, rep, torch.from_numpy(truth).to(model.device), refine=args.refine,
                           lr=args.refine_lr, expression_codes=expression_codes)
    chosen = calibrated(rep, logits, truth)
    print(f"true sounding share P1 P2 TR NO: {np.round(sounding_share(truth), 3).tolist()}, "
          f"mean volume where sounding P1 P2 NO: {np.round(loudness(truth)[[0, 1, 3]], 2).tolist()}")
    print("| thresholds | sounding bias | volume tilt | onset F1 (+-1) | onsets predicted / true "
          "| pitch accuracy (sounding) | sounding share | mean volume P1 P2 NO |")
    print("|---|---|---|---|---|---|---|---|")
    for r in (rep, chosen):
        decoded = r.decode(logits)
        tp, n_pred, n_true = onset_matches(decoded, truth, 1)
        print(f"| {r.onset_threshold} | {r.sounding_bias} | {r.volume_tilt} | {np.round(2 * tp / np.maximum(n_pred + n_true, 1), 3).tolist()} "
              f"| {np.round(n_pred / np.maximum(n_true, 1), 2).tolist()} "
              f"| {np.round(pitch_accuracy_sounding(decoded, truth), 3).tolist()} "
              f"| {np.round(sounding_share(decoded), 3).tolist()} | {np.round(loudness(decoded)[[0, 1, 3]], 2).tolist()} |")
    if args.write:
        meta_path = model_files(args.model)[1]
        meta = read_model_meta(meta_path)
        meta["representation"]["onset_threshold"] = list(chosen.onset_threshold)
        meta["representation"]["sounding_bias"] = list(chosen.sounding_bias)
        meta["representation"]["volume_tilt"] = list(chosen.volume_tilt)
        meta["refine_steps"] = args.refine  # the codes these were chosen for: what blend and eval then use
        meta["refine_lr"] = args.refine_lr
        meta["expression_codes"] = bool(expression_codes and rep.expressive)
        atomic_write_text(meta_path, dumps(meta, indent=2))
        print(f"written to {meta_path}")


if __name__ == "__main__":
    main()
