#!/usr/bin/env bash
# Issue 15 on a machine with two GPUs (device kind nvidia-h200-x2), after `tools/gpu/full_product_session.sh build`
# in the same call or an earlier one on the same machine:
#   scaling  one GPU (--device cuda:0) against two (--device cuda --device-ids 0,1) at CAMERAS (the one-GPU maximum
#            and twice it), CPU-decoded: fps and p99 in all and per device, batches per device, busy per device;
#   drill    a lost device (sticky) on cuda:1 for 8 s of a 30 s measurement: its batches go to cuda:0 (hand-overs,
#            no fallback at all: --fallback none, so a frame not handed over would be lost), then it is rebuilt
#            and closes again.
# Uses tools/gpu/pipeline_matrix.sh (PLAN, MAX_BATCH, DURATION, WARMUP, TUNE...). Results in $OUT: matrix.txt, one
# JSON and log per run ("devices" in the JSON holds the per-device figures).
set -uo pipefail
OUT=${OUT:-/tmp/itscam-out}
STAGES=${*:-scaling drill}
CLIP=${CLIP:-devdata/clips/highway_720p.mp4}
CAMERAS=${CAMERAS:-192,384}
has() { [[ " $STAGES " == *" $1 "* ]]; }
nvidia-smi -L | tee -a "$OUT/matrix.txt"
if has scaling; then
  DEVICE=cuda:0 MATRIX="one_gpu:$CLIP:cpu:$CAMERAS" bash tools/gpu/pipeline_matrix.sh
  export PLAN=/tmp/plan-cuda/$(basename "${PLAN:-devdata/portable/yolo11n.plan}") TUNE=0
  DEVICE=cuda EXTRA="--device-ids 0,1" MATRIX="two_gpus:$CLIP:cpu:$CAMERAS" bash tools/gpu/pipeline_matrix.sh
fi
if has drill; then
  DEVICE=cuda EXTRA="--device-ids 0,1 --fault sticky --fault-device cuda:1 --fault-at 8 --fault-for 8
                     --breaker-recovery-s 2 --fallback none -v" \
  DURATION=30 MATRIX="two_gpus_drill:$CLIP:cpu:${DRILL_CAMERAS:-64}" bash tools/gpu/pipeline_matrix.sh
  grep -h "fault sticky\|per device" "$OUT"/two_gpus_drill.log | tee -a "$OUT/matrix.txt"
fi
