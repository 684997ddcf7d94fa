#!/usr/bin/env bash
# Rebuilds the bundled default model from scratch on NES-MDB's train split as it was made: config
# nesmdb-v2 without its recipe, 5000 steps of 256 windows (run directory runs/bundled; the H100 run);
# a cool-down from those weights, 1200 steps of 128 windows with the rate warming up to 3e-4 and
# falling to 0 on a cosine (runs/bundled-cool); then nesmdb-v2 with its recipe (transposition, P1/P2
# swap, warmup + cosine, moving average, bf16) from those weights, 10000 steps of 64 windows at 3e-4
# (runs/bundled-recipe); each run is resumed if it exists. Then calibrates its decoding for refined
# codes, recomputes its attribute vectors and scores it on the valid split.
# Minutes on a GPU (the default device when there is one), about 5 hours on 2 CPU cores; more steps for
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
# the first two runs were made before the recipe: nesmdb-v2 without it
PLAIN=(--set data.transpose=0 --set data.swap_pulses=false --set optim.schedule=constant --set optim.warmup_steps=0
       --set train.ema=0 --set train.amp=off)
if [ -f runs/bundled/config.yaml ]; then
  $BIN/nesinterp train --run-dir runs/bundled --resume ${NESINTERP_TRAIN_ARGS:-}
else
  $BIN/nesinterp train --config nesmdb-v2 --run-dir runs/bundled --set train.steps=5000 "${PLAIN[@]}" ${NESINTERP_TRAIN_ARGS:-}
fi
if [ -f runs/bundled-cool/config.yaml ]; then
  $BIN/nesinterp train --run-dir runs/bundled-cool --resume
else
  $BIN/nesinterp train --config nesmdb-v2 --run-dir runs/bundled-cool --set train.init_from=runs/bundled \
    --set train.steps=1200 --set train.batch=128 --set optim.lr=3e-4 "${PLAIN[@]}" --set optim.schedule=cosine \
    --set optim.warmup_steps=100
fi
if [ -f runs/bundled-recipe/config.yaml ]; then
  $BIN/nesinterp train --run-dir runs/bundled-recipe --resume
else
  $BIN/nesinterp train --config nesmdb-v2 --run-dir runs/bundled-recipe --set train.init_from=runs/bundled-cool \
    --set train.steps=10000 --set train.batch=64 --set optim.lr=3e-4 --set optim.warmup_steps=300
fi
$BIN/nesinterp export runs/bundled-recipe -o runs/bundled/export --force
# onset thresholds, sounding biases and volume tilts for codes refined by 40 steps (the expression from
# codes of its own), as blend decodes them
$BIN/nesinterp calibrate runs/bundled/export --data data/nesmdb --refine 40 --expression-codes --write
$BIN/nesinterp attributes runs/bundled/export --data data/nesmdb --force
# its scores on the valid split, beside the baselines (the README's tables)
$BIN/nesinterp eval runs/bundled/export --data data/nesmdb --pairs 256 -o runs/bundled/eval-valid --force
if [ "$INSTALL" = 1 ]; then
  cp runs/bundled/export/model.safetensors runs/bundled/export/model.json runs/bundled/export/attributes.json nesinterp/pretrained/
  echo "installed into nesinterp/pretrained/"
else
  echo "exported to runs/bundled/export/ (run again with --install to make it the bundled model)"
fi
