#!/usr/bin/env bash
# What issue 17 still needs from the H200, in one device call after the build call:
#   call 1: GPU_TESTS=1 tools/gpu/full_product_session.sh build && SUITES="nvdec sanitizer" tools/gpu/gpu_suites.sh
#   call 2: tools/gpu/overload_session.sh [STAGES]
# Stages (default all):
#   cpu     CPU decoding at and past capacity, with decode thinning (the default) and without: CPU_CAMERAS with it,
#           CPU_CAMERAS_OFF without (the 2026-12-04 figure, 3,570 fps at 256 cameras, was without).
#   nvdec   NVDEC at NVDEC_CAMERAS: past the driver's 378-session cap the cameras go to the CPU at once now.
#   workers NVDEC with 2 inference workers on the GPU at WORKER_CAMERAS.
#   drill   a lost device (sticky) for DRILL_FOR s from DRILL_AT s into a DRILL_DURATION s measurement of
#           DRILL_CAMERAS cameras, served meanwhile by DRILL_FALLBACK (ref: this machine has no oneDNN), then rebuilt.
# Uses tools/gpu/pipeline_matrix.sh (its variables apply: PLAN, MAX_BATCH, DURATION, WARMUP, TUNE...). Results in
# $OUT: matrix.txt, one JSON and log per run.
set -uo pipefail
OUT=${OUT:-/tmp/itscam-out}
STAGES=${*:-cpu nvdec workers drill}
CLIP=${CLIP:-devdata/clips/highway_720p.mp4}
has() { [[ " $STAGES " == *" $1 "* ]]; }
runs=()
has cpu && runs+=("cpu_thin:$CLIP:cpu:${CPU_CAMERAS:-160,192,256,384}" "cpu_full:$CLIP:cpu:${CPU_CAMERAS_OFF:-192,384}")
has nvdec && runs+=("nvdec_cap:$CLIP:nvdec:${NVDEC_CAMERAS:-300,500}")
# Several inference workers per device (each with its own streams and CUDA graphs): never measured past 48 cameras.
has workers && runs+=("nvdec_w2:$CLIP:nvdec:${WORKER_CAMERAS:-250,300}:2")
# pipeline_matrix.sh passes EXTRA to every run: the thinning switch and the drill go in separate calls of it.
export TUNE=${TUNE:-1}
if [ ${#runs[@]} -gt 0 ]; then
  for r in "${runs[@]}"; do
    case $r in cpu_full:*) EXTRA="--skip-nonref false" MATRIX="$r" bash tools/gpu/pipeline_matrix.sh ;;
                        *) EXTRA="${EXTRA:-}" MATRIX="$r" bash tools/gpu/pipeline_matrix.sh ;;
    esac
    # The first call re-targeted and tuned the plan for cuda:0 (pipeline_matrix.sh TUNE): the others load that one.
    if [ "$TUNE" = 1 ]; then
      export PLAN=/tmp/plan-cuda/$(basename "${PLAN:-devdata/portable/yolo11n.plan}") TUNE=0
    fi
  done
fi
if has drill; then
  EXTRA="--fault sticky --fault-at ${DRILL_AT:-8} --fault-for ${DRILL_FOR:-8} --fallback ${DRILL_FALLBACK:-ref}
         --breaker-recovery-s ${DRILL_RECOVERY:-2} -v" \
  DURATION=${DRILL_DURATION:-30} MATRIX="drill:$CLIP:cpu:${DRILL_CAMERAS:-8}" MAX_BATCH=8 TUNE=0 \
  PLAN=${PORTABLE_PLAN:-devdata/portable/yolo11n.plan} bash tools/gpu/pipeline_matrix.sh  # a cuda plan: no ref fallback
  grep -h "fault sticky" "$OUT"/drill.log | tee -a "$OUT/matrix.txt"
fi
