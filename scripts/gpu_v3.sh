#!/usr/bin/env bash
# One prepared call on a lent GPU machine for the next bundled music model (about 9 minutes; carry
# data/nesmdb). The v3 ablation (benchmarks/RESULTS.md 2l) kept v2's representation (frame notes + onset
# head, one-pass decoder): notes as decisions and the causal head each cost pitch at equal samples. So this
# trains v2's model with the v3 recipe, at GPU scale:
#   1. the tests that touch CUDA, the models and the recipe (they skip without CUDA);
#   2. training throughput of nesmdb-v2 with the recipe, fp32 and bf16 at batch 256, 1024 and 4096 (the
#      issue's aim: >= 50k windows/s on an H100/H200);
#   3. a 30-second run at the candidate's batch that measures its own windows/s, from which the number of
#      steps is chosen so that warmup + cosine end inside TRAIN_SECONDS;
#   4. the candidate: nesmdb-v2 + recipe (transposition +-6, P1/P2 swap, warmup + cosine, moving average of
#      the weights, bf16) from scratch at batch BATCH, stopped by SIGTERM at TRAIN_SECONDS at the latest
#      (the trainer checkpoints first);
#   5. its export (with metrics and log) as a tarball under $OUT. Then, on the CPU:
#        nesinterp calibrate runs/gpu/export --refine 0 --no-expression-codes --write   # the encoder's codes
#        nesinterp eval runs/gpu/export --data data/nesmdb --windows 0 --pairs 1024
#      and with --refine 40 --expression-codes as the bundled model is decoded; it replaces the bundled
#      model only where it beats it on valid, intervals apart.
#   OUT=/path/for/results [TRAIN_SECONDS=330] [BATCH=1024] bash scripts/gpu_v3.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu}
PY=${PYTHON:-python3}
TRAIN_SECONDS=${TRAIN_SECONDS:-330}
BATCH=${BATCH:-1024}
RUNS=runs/gpu-runs
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$RUNS"
$PY -c "import torch; print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())" | tee "$OUT/device.txt"
[ -f data/nesmdb/manifest.json ] || { echo "no prepared dataset at data/nesmdb"; exit 2; }

timeout 60 $PY -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_models.py tests/test_fine_tune.py 2>&1 \
  | tail -8 | tee "$OUT/tests.log"

RECIPE=(--set data.transpose=6 --set data.swap_pulses=true --set optim.schedule=cosine --set optim.warmup_steps=300
        --set train.ema=0.999 --set train.amp=bf16)
timeout 100 $PY benchmarks/speed/bench_train.py --grid nesmdb-v2 --dataset data/nesmdb --device cuda --steps 10 \
  --batches 256,1024,4096 "${RECIPE[@]}" 2>&1 | grep -v -i "warn" | tee "$OUT/bench_train.md"

# the candidate's own speed, then steps that end the cosine in time (90 % of TRAIN_SECONDS, at least 500)
timeout 60 $PY -m nesinterp train --config nesmdb-v2 --data data/nesmdb --run-dir "$RUNS/probe" --force --device cuda -q \
  "${RECIPE[@]}" --set train.batch="$BATCH" --set train.steps=150 --set train.log_every=50 \
  --set train.checkpoint_every=1000000 --set train.checkpoint_minutes=0 --set train.sample_every=1000000 > /dev/null 2>&1
STEPS=$($PY -c "
import json, sys
rates = [json.loads(l)['samples_per_s'] for l in open('$RUNS/probe/metrics.jsonl')][1:] or [5000]
print(max(500, int(0.9 * $TRAIN_SECONDS * min(rates) / $BATCH)))" 2>/dev/null || echo 2000)
echo "probe: $STEPS steps of $BATCH for $TRAIN_SECONDS s" | tee -a "$OUT/runs.txt"

timeout -k 60 "$TRAIN_SECONDS" $PY -m nesinterp train --config nesmdb-v2 --data data/nesmdb --run-dir "$RUNS/v2r-gpu" \
  --force --device cuda -q "${RECIPE[@]}" --set train.batch="$BATCH" --set train.steps="$STEPS" \
  --set train.checkpoint_every=1000000 --set train.checkpoint_minutes=2 > "$RUNS/v2r-gpu.log" 2>&1
echo "v2r-gpu: exit $? after $SECONDS s" | tee -a "$OUT/runs.txt"
$PY -m nesinterp export "$RUNS/v2r-gpu" -o "$RUNS/v2r-gpu/export" --force >> "$OUT/runs.txt" 2>&1 \
  && cp "$RUNS/v2r-gpu/metrics.jsonl" "$RUNS/v2r-gpu/config.yaml" "$RUNS/v2r-gpu.log" "$RUNS/v2r-gpu/export/"
tar czf "$OUT/v2r-gpu.tgz" -C "$RUNS/v2r-gpu" export 2>/dev/null
ls -la "$OUT"
