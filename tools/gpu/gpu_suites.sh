#!/usr/bin/env bash
# The GPU test suites on the GPU machine, after `GPU_TESTS=1 tools/gpu/full_product_session.sh build` built them
# (CUDA + FFmpeg + NVDEC + service, ITSCAM_SHARED_DIR at devdata/shared). Run from the repository root. Carried
# (git-ignored) inputs:
#   devdata/portable/yolo11n.plan        the model for cuda_backend_test (this build has no ONNX importer)
#   devdata/golden/bus_640.{input.png,json,output.npy}   the golden; the input becomes .input.npy here (python3 cv2)
#   devdata/shared/data/videos/          the shared clips the NVDEC tests decode (a subset: see SKIP below)
#   devdata/gpu/clips/                   the clips nvdec_test.cpp makes with the ffmpeg CLI, made elsewhere
#                                        (ITSCAM_TEST_CLIPS; the GPU machine has no ffmpeg CLI)
# SUITES (default all): ops backend kernels device vision nvdec sanitizer; BACKEND_FILTER: a gtest filter for
# backend (default all). SKIP: a gtest negative filter for tests
# whose inputs were not carried (default: NvdecGpu.MatchesFfmpegOnSharedClips, which needs all three shared clips).
# Results in $OUT: suites.txt and one log per suite.
set -uo pipefail
OUT=${OUT:-/tmp/itscam-out}
mkdir -p "$OUT"
S=$OUT/suites.txt
B=${BUILD_DIR:-build-gpu-product}
SUITES=${SUITES:-ops backend kernels device vision nvdec sanitizer}
SKIP=${SKIP:-NvdecGpu.MatchesFfmpegOnSharedClips}
PY=/opt/torch/.venv/bin/python3
[ -x $PY ] || PY=python3
# The product bundle only where it was carried: an engine build (tools/bench/h200_session.sh, BUILD_DIR=build-gpu)
# links no FFmpeg and runs every suite but nvdec without it.
PACK=${PRODUCT_PACK:-devdata/product-debian12.tar.xz}
if [ -f "$PACK" ]; then
  source tools/gpu/use_product.sh "$PACK" /tmp/product-debian12 > /dev/null 2>> "$S" || exit 1
fi
has() { [[ " $SUITES " == *" $1 "* ]]; }

mkdir -p /tmp/golden && cp devdata/golden/* /tmp/golden/
$PY - <<'EOF' 2>> "$S"
import cv2, numpy as np
bgr = cv2.imread("/tmp/golden/bus_640.input.png", cv2.IMREAD_COLOR)
np.save("/tmp/golden/bus_640.input.npy", (bgr[:, :, ::-1].transpose(2, 0, 1)[None] / 255.0).astype(np.float32))
EOF
export ITSCAM_TEST_MODEL=$PWD/devdata/portable/yolo11n.plan ITSCAM_GOLDEN_DIR=/tmp/golden ITSCAM_TEST_CLIPS=$PWD/devdata/gpu/clips

run_suite() {  # name binary filter timeout
  local f; f=$(find "$B/tests" -name "$2" -type f | head -1)
  [ -n "$f" ] || { echo "$1 ($2): not built" | tee -a "$S"; return; }
  local t0; t0=$(date +%s)
  timeout "$4" "$f" --gtest_filter="$3" --gtest_brief=1 > "$OUT/suite_$1.log" 2>&1
  local rc=$?
  echo "$1 ($2 --gtest_filter='$3') exit $rc in $(( $(date +%s) - t0 )) s:" \
       "$(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$OUT/suite_$1.log" | tr '\n' ' ')" | tee -a "$S"
  grep -E "^\[  FAILED  \]|Failure|error:" "$OUT/suite_$1.log" | head -12 | tee -a "$S"
}
echo "== $(date +%T) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)" | tee -a "$S"
has ops && run_suite ops itscam_backend_ops '*_cuda' 400
has backend && run_suite backend cuda_backend_test "${BACKEND_FILTER:-*}" 400
has kernels && run_suite kernels cuda_kernels_test '*' 200
has device && run_suite device cuda_device_test '*' 120
has vision && run_suite vision gpu_vision_test '*' 200
has nvdec && run_suite nvdec itscam_nvdec_tests "*-$SKIP" 300
if has sanitizer; then
  # compute-sanitizer: memcheck over our kernels and the GPU letterbox/NMS (out-of-bounds and misaligned accesses),
  # then initcheck and racecheck over the C3k2 block at batch 3 (Split views, a residual from a view, a 3-way Concat:
  # the case whose fp16 output once varied between runs, docs/cuda.md).
  cs=/usr/local/cuda/bin/compute-sanitizer
  sanitize() {  # tool binary filter timeout
    local f; f=$(find "$B/tests" -name "$2" -type f | head -1)
    [ -x "$cs" ] && [ -n "$f" ] || { echo "sanitizer $1 $2: no compute-sanitizer or no $2" | tee -a "$S"; return; }
    local t0; t0=$(date +%s)
    timeout "$4" "$cs" --tool "$1" --error-exitcode 9 "$f" --gtest_filter="$3" --gtest_brief=1 \
      > "$OUT/suite_sanitizer_$1_$2.log" 2>&1
    echo "sanitizer ($1 $2 '$3') exit $? in $(( $(date +%s) - t0 )) s:" \
         "$(grep -E 'ERROR SUMMARY|^\[  (PASSED|FAILED) ' "$OUT/suite_sanitizer_$1_$2.log" | tr '\n' ' ')" | tee -a "$S"
  }
  sanitize memcheck cuda_kernels_test '*' 300
  sanitize memcheck gpu_vision_test '*' 300
  sanitize initcheck itscam_backend_ops '*C3k2_b3_fp16_cuda*' 300
  sanitize racecheck itscam_backend_ops '*C3k2_b3_fp16_cuda*' 300
fi
echo "== $(date +%T) done" | tee -a "$S"
