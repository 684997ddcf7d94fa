#!/usr/bin/env bash
# One prepared run for a lent GPU machine, about 10 minutes (the music model v2 issue): training
# throughput on CUDA, then the v2 candidate (temporal latent + residual blocks + learned upsampling,
# benchmarks/RESULTS.md 2b) trained at the bundled model's budget and scored on the valid split.
# Written for the device machines' system python3 with torch (no venv); not yet run on a GPU.
#   OUT=/path/for/results bash scripts/gpu_v2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu}
PY=${PYTHON:-python3}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
mkdir -p "$OUT"
$PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA'; print(torch.__version__, torch.cuda.get_device_name())"
[ -d data/nesmdb ] || $PY -m nesinterp prep "${ARCHIVE:-../shared/data/nesmdb/nesmdb24_exprsco.tar.gz}" -o data/nesmdb -q
# Throughput (samples/s) of the default config and of each regularizer at batch 64, 256 and 1024.
timeout 150 $PY benchmarks/bench_train.py --device cuda 2>&1 | tee "$OUT/bench_train.md" || true
# The candidate at 16000 steps x 64; a timeout stops it with a checkpoint (SIGTERM), which eval then uses.
timeout 300 $PY -m nesinterp train --config nesmdb-bundled --data data/nesmdb --run-dir "$OUT/temporal-res" --force \
    --device cuda -q --set model.latent_layout=temporal --set model.block=residual --set model.upsample=learned \
  | tee "$OUT/train.log" || true
$PY -m nesinterp eval "$OUT/temporal-res" --data data/nesmdb --pairs 256 --device cuda -o "$OUT/temporal-res/eval" --force \
  | tee "$OUT/eval.md"
