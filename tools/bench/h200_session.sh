#!/usr/bin/env bash
# One device session on the GPU machine (Ubuntu 24.04, CUDA 13, cuDNN 9; no libonnx/oneDNN/OpenCV/FFmpeg): build the
# CUDA backend, run the GPU tests, benchmark against the PyTorch peer in the same run, profile per layer and run
# compute-sanitizer. Run from the repository root with the git-ignored devdata/ carried:
#   devdata/portable/yolo11n.plan portable plan (itscam optimize --device portable, made on a machine with ONNX)
#   devdata/models/yolo11n.onnx   the ONNX model (for the PyTorch peer)
#   devdata/golden/               bus/zidane _640.input.png + .output.npy from ../shared/golden
#   devdata/coco128/              images/ + labels/ of ../shared/data/coco128 (val stage)
# Stages (default all): build tests bench branches fusions e2e val profile sanitize fp8 igemm. Results go to $OUT (at
# most 8 files come back).
# TESTS: the GPU test binaries the tests stage runs (default all five); OPS_FILTER= (empty) skips the op suite.
# BUILD_TARGETS: what the build stage builds (default itscam and every GPU test binary).
# BACKEND_FILTER: a gtest filter for cuda_backend_test in the tests stage (default all). AB_ENV: environment
# assignments for a second plan the bench stage builds and benchmarks beside the default one (A/B in one run).
# VAL_FP32=0 skips the fp32 val. ITSCAM_CUDA_TUNE_LOG=1 puts each convolution's timed alternatives in optimize.log
# and their per-build sums (tools/bench/tune_summary.py) in the summary.
# fp8 stage: FP8_BATCHES (default "64 8"), FP8_IGEMM (our fp16 variants beside the FP8 columns, default 6).
# igemm stage: IGEMM_VARIANTS (default 0,6), IGEMM_BATCHES (default "64 1"); NCU_LAYER=TEXT adds Nsight Compute's
# full report of NCU_VARIANT (default 6) on the layers whose name holds TEXT (kernels matching NCU_KERNEL, default
# igemm_tma) at NCU_BATCH (default 64), in ncu.txt.
set -uo pipefail
OUT=${OUT:-/tmp/itscam-out}
mkdir -p "$OUT"
STAGES=${*:-build tests bench branches fusions e2e val profile sanitize fp8 igemm}
BATCHES=${BATCHES:-1,8,32,64,128}
export PATH=/opt/torch/.venv/bin:$PATH
PY=/opt/torch/.venv/bin/python3
B=${BUILD_DIR:-build-gpu}  # build-gpu-product (tools/gpu/full_product_session.sh) serves the profile and sanitize stages too
has() { [[ " $STAGES " == *" $1 "* ]]; }
log() { echo "== $(date +%T) $*" | tee -a "$OUT/summary.txt"; }

if has build; then
  log build
  cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DITSCAM_WITH_CUDA=ON \
    -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DITSCAM_WITH_ONNX=OFF -DITSCAM_WITH_ONEDNN=OFF \
    -DITSCAM_WITH_OPENCV=OFF -DITSCAM_WITH_FFMPEG=OFF -DITSCAM_WITH_SERVICE=OFF -DITSCAM_BUILD_BENCH=OFF \
    > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
  ninja -C $B -j16 ${BUILD_TARGETS:-itscam cuda_backend_test cuda_kernels_test gpu_vision_test cudnn_fused_test \
    igemm_fp8_test itscam_backend_ops itscam_conv_bench} >> "$OUT/build.log" 2>&1 \
    || { grep -E "error|FAILED" -A3 "$OUT/build.log" | head -60; exit 1; }
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,utilization.gpu --format=csv \
    | tee -a "$OUT/summary.txt"
fi
I=$B/tools/itscam/itscam
PLAN=devdata/portable/yolo11n.plan
CPLAN=devdata/plans_cuda/yolo11n.plan  # made by the bench stage; later stages use it when present

# Golden inputs as .npy (no OpenCV C++ here; python's cv2 reads the PNGs exactly like OpenCV does).
$PY - <<'PYEOF'
import glob, numpy as np, cv2
for p in glob.glob("devdata/golden/*_640.input.png"):
    img = cv2.imread(p, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255.0
    np.save(p.replace(".input.png", ".input.npy"), np.ascontiguousarray(img.transpose(2, 0, 1)[None]))
PYEOF

if has tests; then
  log tests
  export ITSCAM_TEST_MODEL=$PLAN ITSCAM_GOLDEN_DIR=devdata/golden
  for t in ${TESTS:-cuda_kernels_test igemm_fp8_test gpu_vision_test cudnn_fused_test cuda_backend_test}; do
    f=$(find $B/tests -name $t -type f | head -1)
    # cuda_backend_test builds a dozen autotuned engines (tens of seconds each): it ran past 300 s on 2026-12-05.
    filter='*'; [ $t = cuda_backend_test ] && filter=${BACKEND_FILTER:-*}  # e.g. '-*Autotuned*' to save ~4 minutes
    timeout 480 "$f" --gtest_brief=1 --gtest_filter="$filter" > "$OUT/test_$t.log" 2>&1
    echo "$t exit $? : $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$OUT/test_$t.log" | tr '\n' ' ')" | tee -a "$OUT/summary.txt"
    grep -E "FAILED|Failure|error" "$OUT/test_$t.log" | head -20 >> "$OUT/summary.txt"
  done
  if [ -n "${OPS_FILTER-*_cuda}" ]; then
    f=$(find $B/tests -name itscam_backend_ops -type f | head -1)
    timeout 300 "$f" --gtest_filter="${OPS_FILTER:-*_cuda}" --gtest_brief=1 > "$OUT/test_backend_ops.log" 2>&1
    echo "backend_ops(cuda) exit $? : $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$OUT/test_backend_ops.log" | tr '\n' ' ')" | tee -a "$OUT/summary.txt"
    grep -E "^\[  FAILED  \]" "$OUT/test_backend_ops.log" | head -30 >> "$OUT/summary.txt"
  fi
fi

if has bench; then
  log "bench: optimize (cuda plans), ours vs PyTorch"
  mkdir -p devdata/plans_cuda
  $I optimize --input-dir devdata/portable --output-dir devdata/plans_cuda --device cuda:0 --target-performance fast \
     --batch-sizes $BATCHES 2>&1 | tee "$OUT/optimize.log" | tail -8 | tee -a "$OUT/summary.txt"
  # ITSCAM_CUDA_TUNE_LOG=1: per build, the per-layer sums of cuDNN and of each implicit-GEMM variant, and what it kept.
  [ -n "${ITSCAM_CUDA_TUNE_LOG:-}" ] && $PY tools/bench/tune_summary.py "$OUT/optimize.log" | tee -a "$OUT/summary.txt"
  # Convolutions on a fused cuDNN graph and on our implicit-GEMM kernel, over all batch sizes (87 per batch size).
  echo "fused convolutions: $(strings $CPLAN 2>/dev/null | grep -o 'fused=' | wc -l);" \
    "implicit-GEMM convolutions: $(strings $CPLAN 2>/dev/null | grep -o ' igemm' | wc -l) in all" | tee -a "$OUT/summary.txt"
  # Each batch size's latency-kernel choice and the replay times behind it (cuda_backend.cpp, docs/cuda.md).
  strings $CPLAN 2>/dev/null | grep -o 'latency_kernels [^\\"]*' | tee -a "$OUT/summary.txt"
  $I bench model --model $CPLAN --device cuda:0 --precision fp16 --batch $BATCHES --iters 100 --warmup 20 \
     --e2e --json "$OUT/ours.json" 2>&1 | tee -a "$OUT/summary.txt"
  $PY bench/torch_peer.py --model devdata/models/yolo11n.onnx --batch $BATCHES --iters 100 --json "$OUT/torch_peer.json" \
     2>&1 | tail -12 | tee -a "$OUT/summary.txt"
  if [ -n "${AB_ENV:-}" ]; then
    # A/B in the same run: a second plan built and benchmarked under AB_ENV (e.g. ITSCAM_CUDA_IGEMM=0, the
    # convolutions without our implicit-GEMM kernel), then ours again, so drift shows.
    log "bench: A/B plan under $AB_ENV"
    mkdir -p devdata/plans_cuda_ab
    env $AB_ENV $I optimize --input-dir devdata/portable --output-dir devdata/plans_cuda_ab --device cuda:0 \
      --target-performance fast --batch-sizes $BATCHES 2>&1 | tail -3 | tee -a "$OUT/summary.txt"
    env $AB_ENV $I bench model --model devdata/plans_cuda_ab/yolo11n.plan --device cuda:0 --precision fp16 \
      --batch $BATCHES --iters 100 --warmup 20 --json "$OUT/ours_ab.json" 2>&1 | tee -a "$OUT/summary.txt"
    $I bench model --model $CPLAN --device cuda:0 --precision fp16 --batch $BATCHES --iters 100 --warmup 20 2>&1 \
      | tee -a "$OUT/summary.txt"
  fi
fi

if has branches; then
  # The CUDA graph with parallel branches (docs/cuda.md, ITSCAM_CUDA_GRAPH_BRANCHES) against the sequential graph,
  # on the same plan: each capture prints both replay times ("parallel branches on|off (... T ms a replay against T'
  # ms sequential)"), then the plan is benchmarked with the branched graph forced and without it, alternately.
  log "branches: the graph with parallel branches against the sequential one"
  for mode in auto 1 0 1 0; do
    echo "ITSCAM_CUDA_GRAPH_BRANCHES=$mode" | tee -a "$OUT/summary.txt"
    ITSCAM_CUDA_TUNE_LOG=1 ITSCAM_CUDA_GRAPH_BRANCHES=$mode $I bench model \
      --model $([ -f $CPLAN ] && echo $CPLAN || echo $PLAN) --device cuda:0 --precision fp16 --batch $BATCHES \
      --iters 100 --warmup 20 2>&1 | grep -E "^cuda|gpu time|parallel branches|rror" | tee -a "$OUT/summary.txt"
  done
fi

if has fusions; then
  # The fused groups (docs/cuda.md, "Fused groups": the PSA attention block, the MaxPool chain) against their generic
  # steps on the same plan, each switch off then on, twice, so drift shows.
  log "fusions: each fused group against its generic steps, same plan"
  for sw in ITSCAM_CUDA_FUSED_ATTENTION ITSCAM_CUDA_FUSED_POOLS; do
    for mode in 0 1 0 1; do
      echo "$sw=$mode" | tee -a "$OUT/summary.txt"
      env $sw=$mode $I bench model --model $([ -f $CPLAN ] && echo $CPLAN || echo $PLAN) --device cuda:0 \
        --precision fp16 --batch $BATCHES --iters 100 --warmup 20 2>&1 | grep -E "^cuda|gpu time|rror" \
        | tee -a "$OUT/summary.txt"
    done
  done
fi

if has e2e; then
  # Issue 13 item 2: frames -> detections with the GPU letterbox writing the graph's fp16 NHWC input itself (direct),
  # against the fp32 NCHW input and the graph's own conversion (ITSCAM_CUDA_DIRECT_INPUT=0), one after the other.
  log "e2e: 1280x720 pinned frames -> detections, direct fp16 NHWC input against the fp32 input"
  for d in 1 0 1 0; do
    echo "ITSCAM_CUDA_DIRECT_INPUT=$d" | tee -a "$OUT/summary.txt"
    ITSCAM_CUDA_DIRECT_INPUT=$d $I bench model --model $([ -f $CPLAN ] && echo $CPLAN || echo $PLAN) --device cuda:0 \
      --precision fp16 --batch ${E2E_BATCHES:-1,8,64} --iters 100 --warmup 20 --e2e 2>&1 \
      | grep -E "^cuda|gpu time|end to end|rror" | tee -a "$OUT/summary.txt"
  done
fi

if has val; then
  log "val: coco128 mAP on the GPU (JPEGs converted to PPM by cv2: this build has no OpenCV)"
  $PY - <<'PYEOF'
import glob, os, shutil, cv2
src, dst = "devdata/coco128", "devdata/coco128ppm"
for split in os.listdir(f"{src}/images"):
    os.makedirs(f"{dst}/images/{split}", exist_ok=True)
    shutil.copytree(f"{src}/labels/{split}", f"{dst}/labels/{split}", dirs_exist_ok=True)
    for p in glob.glob(f"{src}/images/{split}/*.jpg"):
        cv2.imwrite(f"{dst}/images/{split}/" + os.path.basename(p)[:-4] + ".ppm", cv2.imread(p, cv2.IMREAD_COLOR))
PYEOF
  $I val --model $([ -f $CPLAN ] && echo $CPLAN || echo $PLAN) --device cuda:0 --precision fp16 --data devdata/coco128ppm \
    --json "$OUT/val_fp16.json" 2>&1 | tail -1 | tee -a "$OUT/summary.txt"
  [ "${VAL_FP32:-1}" = 1 ] &&
    $I val --model $PLAN --device cuda:0 --precision fp32 --data devdata/coco128ppm 2>&1 | tail -1 | tee -a "$OUT/summary.txt"
fi

if has profile; then
  log profile
  # PROFILE_LATENCY="auto on off": the per-step profile with the latency kernels as the build decides, forced on and
  # forced off (issue 13: why they lose at batch >= 32). Each run's per-kind totals go to the summary.
  for b in ${PROFILE_BATCHES:-1 64}; do
    for lk in ${PROFILE_LATENCY:-auto}; do
      echo "== batch $b, latency kernels $lk" >> "$OUT/profile.txt"
      ITSCAM_CUDA_LATENCY_KERNELS=$lk ITSCAM_PROFILE=1 $I bench model --model $([ -f $CPLAN ] && echo $CPLAN || echo $PLAN) \
        --device cuda:0 --precision fp16 --batch $b --iters 30 --warmup 3 > /dev/null 2> "/tmp/profile_b${b}_$lk.txt"
      cat "/tmp/profile_b${b}_$lk.txt" >> "$OUT/profile.txt"
      { echo "== batch $b, latency kernels $lk"; grep -E "^CUDA profile|^  [A-Za-z][^ ]* +[0-9.]+ ms" "/tmp/profile_b${b}_$lk.txt"; } \
        >> "$OUT/summary.txt"
    done
  done
fi

if has sanitize; then
  log "compute-sanitizer memcheck (batch 1 and 8)"
  CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  for b in ${SANITIZE_BATCHES:-1 8}; do
    timeout 150 $CS --tool memcheck --leak-check full --error-exitcode 9 $I bench model \
      --model $([ -f $CPLAN ] && echo $CPLAN || echo $PLAN) --device cuda:0 \
      --precision fp16 --batch $b --iters 2 --warmup 1 > "$OUT/memcheck_b$b.log" 2>&1
    echo "memcheck batch $b exit $? : $(grep -E 'ERROR SUMMARY' "$OUT/memcheck_b$b.log")" | tee -a "$OUT/summary.txt"
  done
fi
if has fp8; then
  # Issue 13 item 5: cuDNN's fused convolution with FP8 E4M3 operands against fp16 on YOLO11n's shapes, and our FP8
  # kernel (Hopper) beside our fp16 variant(s) FP8_IGEMM (default 6; empty: none). cudnn_fused_test and
  # igemm_fp8_test check the outputs against CPU loops in the tests stage.
  fp8_igemm=${FP8_IGEMM-6}
  fp8_args=(--fp8 ${fp8_igemm:+--igemm "$fp8_igemm"})
  log "fp8: fused convolution, fp16 against FP8 (itscam_conv_bench ${fp8_args[*]})"
  for b in ${FP8_BATCHES:-64 8}; do
    timeout 150 $B/itscam_conv_bench "${fp8_args[@]}" --batch $b 2>&1 | tee -a "$OUT/summary.txt"
  done
fi

if has igemm; then
  # Issue 13 item 4: our implicit-GEMM variants against cuDNN's fused fp16 convolution layer by layer, without
  # building a plan (each variant's output is checked against cuDNN's).
  log "igemm: implicit-GEMM variants ${IGEMM_VARIANTS:-0,6} against cuDNN per layer (itscam_conv_bench)"
  for b in ${IGEMM_BATCHES:-64 1}; do
    timeout 150 $B/itscam_conv_bench --igemm ${IGEMM_VARIANTS:-0,6} --batch $b 2>&1 | tee -a "$OUT/summary.txt"
  done
  if [ -n "${NCU_LAYER:-}" ]; then
    NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1 || echo /usr/local/cuda/bin/ncu)
    timeout 300 $NCU --clock-control none --set full -k "regex:${NCU_KERNEL:-igemm_tma}" $B/itscam_conv_bench \
      --igemm ${NCU_VARIANT:-6} --layer "$NCU_LAYER" --batch ${NCU_BATCH:-64} --once > "$OUT/ncu.txt" 2>&1
    echo "ncu exit $? ($NCU): $(grep -c 'Duration' "$OUT/ncu.txt") kernels profiled, in ncu.txt" | tee -a "$OUT/summary.txt"
  fi
fi

log done
