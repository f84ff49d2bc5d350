#!/usr/bin/env bash
# One device call: build the product, A/B the decode slots
# (pipeline.decode_slots) on CPU-decoded cameras at and past capacity, each setting in one process over the same
# camera counts, in the same call (the GPU hosts differ between calls by up to 2x in CPU speed), then time an
# engine compile stage by stage.
#   tools/gpu/decode_slots_session.sh            # build, compile timings, slots "-1 0" at 240,480 cameras
# Every process autotunes its engines at start from the portable PLAN (about 60-95 s).
# Variables: SLOTS ("-1 0": each a --decode-slots value; -1 no limit, 0 auto), CAMERAS (240,480), CLIP, PLAN,
# DURATION (10), WARMUP (5), STAGES ("build ab compile").
# Carry: devdata/product-debian12.tar.xz devdata/portable devdata/clips/highway_720p.mp4 devdata/gpu.
set -uo pipefail
OUT=${OUT:-/tmp/itscam-out}
mkdir -p "$OUT"
STAGES=${STAGES:-build ab compile}
CLIP=${CLIP:-devdata/clips/highway_720p.mp4}
PLAN=${PLAN:-devdata/portable/yolo11n.plan}
has() { [[ " $STAGES " == *" $1 "* ]]; }
if has build; then
  bash tools/gpu/full_product_session.sh build || exit 1
fi
source tools/gpu/use_product.sh "${PRODUCT_PACK:-devdata/product-debian12.tar.xz}" /tmp/product-debian12 > /dev/null || exit 1
I=${BUILD_DIR:-build-gpu-product}/tools/itscam/itscam
if has ab; then
  for s in ${SLOTS:--1 0}; do
    name=slots${s/-/off}
    EXTRA="--decode-slots $s" MATRIX="$name:$CLIP:cpu:${CAMERAS:-240,480}" TUNE=0 PLAN=$PLAN \
      DURATION=${DURATION:-10} WARMUP=${WARMUP:-5} bash tools/gpu/pipeline_matrix.sh
  done
fi
if has compile; then
  # Where an engine's start-up goes (ITSCAM_PROFILE prints each compile's phases): batches 1 and 32 from the
  # portable plan, autotuned at start as the pipeline does without a tuned plan.
  t0=$(date +%s)
  ITSCAM_PROFILE=1 timeout 150 "$I" bench model --model "$PLAN" --device cuda:0 --precision fp16 --batch 1,32 \
    --iters 5 --warmup 1 > "$OUT/compile.log" 2>&1
  echo "== bench model (portable plan, batches 1 and 32) exit $? in $(( $(date +%s) - t0 )) s" | tee -a "$OUT/matrix.txt"
  grep -E "^cuda compile" "$OUT/compile.log" | tee -a "$OUT/matrix.txt"
fi
