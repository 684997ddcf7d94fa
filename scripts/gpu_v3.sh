#!/usr/bin/env bash
# One prepared call on a lent GPU machine for the music model v3 (about 9 minutes; carry data/nesmdb):
#   1. the tests that touch CUDA and the v3 model (they skip without it);
#   2. training throughput of configs/nesmdb-v3.yaml at GPU widths, fp32 and bf16 at batch 256, 1024 and
#      4096 (the issue's aim: >= 50k windows/s on an H100/H200);
#   3. the bundled-model candidate: nesmdb-v3 at GPU widths (max_width 256, head 128, critic at the
#      model's width), batch 512, stopped by SIGTERM after TRAIN_SECONDS (the trainer checkpoints first),
#      the learning rate's cosine spread over the steps it can take in that time (STEPS);
#   4. its float16 export (with metrics and log) as a tarball under $OUT, to score on the CPU with
#      `nesinterp eval runs/.../export --data data/nesmdb` and compare with the bundled model's intervals.
#   OUT=/path/for/results [TRAIN_SECONDS=330] [STEPS=6000] bash scripts/gpu_v3.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu}
PY=${PYTHON:-python3}
TRAIN_SECONDS=${TRAIN_SECONDS:-330}
STEPS=${STEPS:-6000}  # 3.1 M windows at batch 512: the cosine ends in time at >= 9.5k windows/s
RUNS=runs/gpu-runs
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$RUNS"
$PY -c "import torch; print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())" | tee "$OUT/device.txt"
[ -f data/nesmdb/manifest.json ] || { echo "no prepared dataset at data/nesmdb"; exit 2; }

timeout 60 $PY -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_v3.py tests/test_models.py 2>&1 \
  | tail -8 | tee "$OUT/tests.log"

GPU=(--set model.max_width=256 --set model.head_width=128 --set acai.critic_width=0)
timeout 100 $PY benchmarks/speed/bench_train.py --grid nesmdb-v3 --dataset data/nesmdb --device cuda --steps 10 \
  --batches 256,1024,4096 "${GPU[@]}" 2>&1 | grep -v -i "warn" | tee "$OUT/bench_train.md"

timeout -k 60 "$TRAIN_SECONDS" $PY -m nesinterp train --config nesmdb-v3 --data data/nesmdb --run-dir "$RUNS/v3-gpu" \
  --force --device cuda -q "${GPU[@]}" --set train.batch=512 --set train.steps="$STEPS" \
  --set train.checkpoint_every=1000000 --set train.checkpoint_minutes=2 > "$RUNS/v3-gpu.log" 2>&1
echo "v3-gpu: exit $? after $SECONDS s" | tee -a "$OUT/runs.txt"
$PY -m nesinterp export "$RUNS/v3-gpu" -o "$RUNS/v3-gpu/export" --force >> "$OUT/runs.txt" 2>&1 \
  && cp "$RUNS/v3-gpu/metrics.jsonl" "$RUNS/v3-gpu/config.yaml" "$RUNS/v3-gpu.log" "$RUNS/v3-gpu/export/"
tar czf "$OUT/v3-gpu.tgz" -C "$RUNS/v3-gpu" export 2>/dev/null
ls -la "$OUT"
