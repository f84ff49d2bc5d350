#!/usr/bin/env bash
# Issue 17's benchmark matrix on the GPU machine: `itscam bench pipeline` over real H.264 clips, CPU and NVDEC
# decoding, at several camera counts, with `nvidia-smi dmon` (SM, memory, NVDEC load per second) logged alongside.
# Needs an itscam built with CUDA + FFmpeg (+ NVDEC, + the service for NVML figures): full_product_session.sh build.
# Run from the repository root. Variables:
#   BUILD_DIR (build-gpu-product)  PLAN (devdata/portable/yolo11n.plan)
#   MATRIX: runs, space-separated, each name:clip:decode:cameras[:workers[:ratio]], e.g.
#     "nvdec720:devdata/clips/highway_720p.mp4:nvdec:50,100,200,300"
#   DURATION (8), WARMUP (4), MAX_BATCH (32), PRECISION (fp16), DEVICE (cuda:0; "cuda" with EXTRA="--device-ids 0,1"
#   for several GPUs)
#   EXTRA: more `bench pipeline` arguments for every run, e.g. a fault drill:
#     "--fault sticky --fault-at 10 --fault-for 10 --fallback ref --breaker-recovery-s 2"
#   TUNE (1): re-target the (portable) PLAN for cuda:0 once, autotuned for every batch size up to MAX_BATCH
#     (itscam optimize --target-performance fast), so that each run loads it instead of tuning at start.
# Results in $OUT: matrix.txt (the tables), one JSON per run, dmon.txt.
set -uo pipefail
OUT=${OUT:-/tmp/itscam-out}
mkdir -p "$OUT"
M=$OUT/matrix.txt
B=${BUILD_DIR:-build-gpu-product}
I=$B/tools/itscam/itscam
PLAN=${PLAN:-devdata/portable/yolo11n.plan}
# The FFmpeg and service libraries the build linked, from the bundle (LD_LIBRARY_PATH).
source tools/gpu/use_product.sh "${PRODUCT_PACK:-devdata/product-debian12.tar.xz}" /tmp/product-debian12 > /dev/null 2>> "$M" || exit 1
[ -x "$I" ] || { echo "no itscam at $I: build it first (tools/gpu/full_product_session.sh build)" | tee -a "$M"; exit 1; }
[ -n "${MATRIX:-}" ] || { echo "MATRIX is empty" | tee -a "$M"; exit 2; }
if [ "${TUNE:-1}" = 1 ]; then
  t0=$(date +%s)
  rm -rf /tmp/plan-src /tmp/plan-cuda && mkdir -p /tmp/plan-src && cp "$PLAN" /tmp/plan-src/
  "$I" optimize --input-dir /tmp/plan-src --output-dir /tmp/plan-cuda --device cuda:0 --target-performance fast \
    --max-batch-size "${MAX_BATCH:-32}" > "$OUT/optimize.log" 2>&1 || { tail -5 "$OUT/optimize.log" | tee -a "$M"; exit 1; }
  PLAN=/tmp/plan-cuda/$(basename "$PLAN")
  echo "== plan tuned for cuda:0 in $(( $(date +%s) - t0 )) s: $PLAN" | tee -a "$M"
fi
echo "== $(date +%T) $(nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv,noheader); $(nproc) cores" | tee -a "$M"
nvidia-smi dmon -s u -d 1 > "$OUT/dmon.txt" 2>&1 &
dmon=$!
for r in $MATRIX; do
  IFS=: read -r name clip decode cams workers ratio <<< "$r"
  echo "== $(date +%T) $name: $clip --decode $decode --cameras $cams --workers ${workers:-1} --unified-memory-ratio ${ratio:-0.6}" | tee -a "$M"
  echo "== $(date +%T) $name" >> "$OUT/dmon.txt"
  timeout 420 "$I" bench pipeline --device "${DEVICE:-cuda:0}" --precision "${PRECISION:-fp16}" --model "$PLAN" --source "$clip" \
    --decode "$decode" --cameras "$cams" --workers "${workers:-1}" --unified-memory-ratio "${ratio:-0.6}" \
    --max-batch "${MAX_BATCH:-32}" --duration "${DURATION:-8}" --warmup "${WARMUP:-4}" --json "$OUT/$name.json" ${EXTRA:-} \
    > "$OUT/$name.log" 2>&1
  echo "exit $?" | tee -a "$M"
  grep -vE "warming up" "$OUT/$name.log" | tail -n 40 | tee -a "$M"
done
kill $dmon 2>/dev/null
echo "== $(date +%T) done" | tee -a "$M"
