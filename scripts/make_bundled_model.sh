#!/usr/bin/env bash
# Rebuilds the bundled default model (nesinterp/pretrained/) from scratch on NES-MDB's train split and
# prints its scores on the valid split. About 35 minutes on 2 CPU cores; far less on a GPU.
#   bash scripts/make_bundled_model.sh [path/to/nesmdb24_exprsco.tar.gz]
set -euo pipefail
cd "$(dirname "$0")/.."
ARCHIVE=${1:-../shared/data/nesmdb/nesmdb24_exprsco.tar.gz}
BIN=.venv/bin
[ -d data/nesmdb ] || $BIN/nesinterp prep "$ARCHIVE" -o data/nesmdb
[ -f runs/bundled/latest ] && $BIN/nesinterp train --run-dir runs/bundled --resume \
  || $BIN/nesinterp train --config nesmdb-bundled --run-dir runs/bundled
$BIN/python - <<'PY'
from nesinterp.interpolate import export_model

export_model("runs/bundled", "nesinterp/pretrained")
PY
# its scores on the valid split, beside the baselines (the README's tables)
$BIN/nesinterp eval nesinterp/pretrained --data data/nesmdb --pairs 256 -o runs/bundled/eval-valid --force
