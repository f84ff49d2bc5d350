#!/usr/bin/env bash
# One device call: build the product, time engine compiles stage by stage, then A/B the decode slots
# (pipeline.decode_slots) on CPU-decoded cameras at and past capacity, each setting in one process over the same
# camera counts, in the same call (the GPU hosts differ between calls by up to 2x in CPU speed).
#   tools/gpu/decode_slots_session.sh            # build, compile timings, slots "-1 0" at 240,480 cameras
# The A/B loads the plan tuned by the compile stage when there is one (else PLAN, autotuned at each start).
# Variables: SLOTS ("-1 0": each a --decode-slots value; -1 no limit, 0 auto), CAMERAS (240,480), CLIP, PLAN,
# DURATION (10), WARMUP (5), STAGES ("build compile ab").
# Carry: devdata/product-debian12.tar.xz devdata/portable devdata/clips/highway_720p.mp4 devdata/gpu.
set -uo pipefail
OUT=${OUT:-/tmp/itscam-out}
mkdir -p "$OUT"
STAGES=${STAGES:-build compile ab}
CLIP=${CLIP:-devdata/clips/highway_720p.mp4}
PLAN=${PLAN:-devdata/portable/yolo11n.plan}
has() { [[ " $STAGES " == *" $1 "* ]]; }
if has build; then
  bash tools/gpu/full_product_session.sh build || exit 1
fi
source tools/gpu/use_product.sh "${PRODUCT_PACK:-devdata/product-debian12.tar.xz}" /tmp/product-debian12 > /dev/null || exit 1
I=${BUILD_DIR:-build-gpu-product}/tools/itscam/itscam
if has compile; then
  # Where an engine's start-up goes (ITSCAM_PROFILE prints each compile's phases): the autotuning build of a plan
  # for cuda:0 at the pipeline's batch sizes (what a start without a tuned plan does), then loading that plan.
  rm -rf /tmp/plan-src /tmp/plan-cuda && mkdir -p /tmp/plan-src && cp "$PLAN" /tmp/plan-src/
  t0=$(date +%s)
  ITSCAM_PROFILE=1 timeout 300 "$I" optimize --input-dir /tmp/plan-src --output-dir /tmp/plan-cuda --device cuda:0 \
    --target-performance fast --max-batch-size 32 > "$OUT/optimize.log" 2>&1
  echo "== optimize (autotuned, batch 1-32) exit $? in $(( $(date +%s) - t0 )) s" | tee -a "$OUT/matrix.txt"
  grep -E "^cuda compile" "$OUT/optimize.log" | tee -a "$OUT/matrix.txt"
  if [ -f /tmp/plan-cuda/$(basename "$PLAN") ]; then
    PLAN=/tmp/plan-cuda/$(basename "$PLAN")
    t0=$(date +%s)
    ITSCAM_PROFILE=1 timeout 200 "$I" bench model --model "$PLAN" --device cuda:0 --precision fp16 --batch 1,32 \
      --iters 5 --warmup 1 > "$OUT/compile.log" 2>&1
    echo "== bench model on the tuned plan exit $? in $(( $(date +%s) - t0 )) s" | tee -a "$OUT/matrix.txt"
    grep -E "^cuda compile" "$OUT/compile.log" | tee -a "$OUT/matrix.txt"
  fi
fi
if has ab; then
  for s in ${SLOTS:--1 0}; do
    name=slots${s/-/off}
    EXTRA="--decode-slots $s" MATRIX="$name:$CLIP:cpu:${CAMERAS:-240,480}" TUNE=0 PLAN=$PLAN \
      DURATION=${DURATION:-10} WARMUP=${WARMUP:-5} bash tools/gpu/pipeline_matrix.sh
  done
fi
