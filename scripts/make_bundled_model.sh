#!/usr/bin/env bash
# Rebuilds the bundled default model from scratch on NES-MDB's train split: config nesmdb-v2, 5000 steps
# of 256 windows (run directory runs/bundled), then a cool-down from those weights, 1200 steps of 128
# windows with the rate warming up to 3e-4 and falling to 0 on a cosine (runs/bundled-cool); each run is
# resumed if it exists. Then calibrates its decoding for refined codes and scores it on the valid split.
# Minutes on a GPU (the default device when there is one), about 4 hours on 2 CPU cores; more steps for
# the first run with NESINTERP_TRAIN_ARGS="--set train.steps=20000".
#   bash scripts/make_bundled_model.sh [path/to/nesmdb24_exprsco.tar.gz] [--install]
# The model is exported to runs/bundled/export/; only --install copies it over the tracked
# nesinterp/pretrained/ (what `blend` uses without --model).
set -euo pipefail
cd "$(dirname "$0")/.."
ARCHIVE=../shared/data/nesmdb/nesmdb24_exprsco.tar.gz
INSTALL=0
for arg in "$@"; do
  case "$arg" in
    --install) INSTALL=1 ;;
    *) ARCHIVE=$arg ;;
  esac
done
BIN=.venv/bin
[ -d data/nesmdb ] || $BIN/nesinterp prep "$ARCHIVE" -o data/nesmdb
if [ -f runs/bundled/config.yaml ]; then
  $BIN/nesinterp train --run-dir runs/bundled --resume ${NESINTERP_TRAIN_ARGS:-}
else
  $BIN/nesinterp train --config nesmdb-v2 --run-dir runs/bundled --set train.steps=5000 ${NESINTERP_TRAIN_ARGS:-}
fi
if [ -f runs/bundled-cool/config.yaml ]; then
  $BIN/nesinterp train --run-dir runs/bundled-cool --resume
else
  $BIN/nesinterp train --config nesmdb-v2 --run-dir runs/bundled-cool --set train.init_from=runs/bundled \
    --set train.steps=1200 --set train.batch=128 --set optim.lr=3e-4 --set optim.schedule=cosine \
    --set optim.warmup_steps=100
fi
$BIN/nesinterp export runs/bundled-cool -o runs/bundled/export --force
# onset thresholds, sounding biases and volume tilts for codes refined by 40 steps (the expression from
# codes of its own), as blend decodes them
$BIN/nesinterp calibrate runs/bundled/export --data data/nesmdb --refine 40 --expression-codes --write
# its scores on the valid split, beside the baselines (the README's tables)
$BIN/nesinterp eval runs/bundled/export --data data/nesmdb --pairs 256 -o runs/bundled/eval-valid --force
if [ "$INSTALL" = 1 ]; then
  cp runs/bundled/export/model.safetensors runs/bundled/export/model.json nesinterp/pretrained/
  echo "installed into nesinterp/pretrained/"
else
  echo "exported to runs/bundled/export/ (run again with --install to make it the bundled model)"
fi
