#!/usr/bin/env bash
# Before/after check of a CUDA backend change on the GPU machine: the same plans run by the old tree and by the
# working tree must give bit-identical outputs (where the old tree is deterministic) and the same GPU time.
# Run from the repository root with a git-ignored devdata/ carried:
#   devdata/verify/before.tar.gz   `git archive --format=tar.gz <old commit>`
#   devdata/portable/yolo11n.plan  `itscam optimize --device portable` (made where ONNX is available)
#   devdata/models/yolo11n.onnx    for the PyTorch peer;  devdata/golden/{bus,zidane}_640.input.png
#   devdata/openssl/               only if the machine lacks OpenSSL headers: include/openssl + lib/libcrypto.so
# Stages (STAGE=...):
#   before  build the old tree, make the cuda plans (fp16 'fast', fp32 'accurate') once into devdata/plans_cuda/
#           (bring them back and keep them: the tuning must be the same for both trees), dump, bench, PyTorch peer
#   final   build both trees, dump both on the same plans and compare bit for bit, bench after/before/after,
#           `optimize` without --device, then the GPU tests of the working tree
# tools/bench/itscam_dump.cpp is compiled into both trees (appended to tools/itscam/CMakeLists.txt there).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
PY=/opt/torch/.venv/bin/python3
STAGE=${STAGE:-before}
BATCHES=${BATCHES:-1,8,32,64,128}
S="$OUT/summary.txt"
log() { echo "== $(date +%T) $*" | tee -a "$S"; }
R=$PWD
$PY - <<'PYEOF'
import glob, numpy as np, cv2
for p in glob.glob("devdata/golden/*_640.input.png"):
    img = cv2.imread(p, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255.0
    np.save(p.replace(".input.png", ".input.npy"), np.ascontiguousarray(img.transpose(2, 0, 1)[None]))
PYEOF
CFG="-G Ninja -DCMAKE_BUILD_TYPE=Release -DITSCAM_WITH_CUDA=ON -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc
 -DITSCAM_WITH_ONNX=OFF -DITSCAM_WITH_ONEDNN=OFF -DITSCAM_WITH_OPENCV=OFF -DITSCAM_WITH_FFMPEG=OFF
 -DITSCAM_WITH_SERVICE=OFF -DITSCAM_BUILD_BENCH=OFF ${EXTRA_CMAKE:-}"
[ -f /usr/include/openssl/evp.h ] || { echo "no system OpenSSL headers: using devdata/openssl" | tee -a "$S"; CFG="$CFG -DOPENSSL_ROOT_DIR=$R/devdata/openssl"; }
add_dump() {
  grep -q itscam_dump "$1/tools/itscam/CMakeLists.txt" || cat >> "$1/tools/itscam/CMakeLists.txt" <<EOF
add_executable(itscam_dump $R/tools/bench/itscam_dump.cpp)
target_link_libraries(itscam_dump PRIVATE itscam_runtime)
EOF
}
build() {  # src build name jobs targets...
  local src=$1 b=$2 name=$3 j=$4; shift 4
  add_dump "$src"
  local t0=$(date +%s)
  cmake -S "$src" -B "$b" $CFG > "$OUT/build_$name.log" 2>&1 || { tail -30 "$OUT/build_$name.log"; return 1; }
  ninja -C "$b" -j"$j" itscam itscam_dump "$@" >> "$OUT/build_$name.log" 2>&1 \
    || { grep -E "error|FAILED" -A3 "$OUT/build_$name.log" | head -40 | tee -a "$S"; return 1; }
  echo "build $name: $(( $(date +%s) - t0 )) s" | tee -a "$S"
}
dumps() {  # build-dir name plan-dir (holding fp16/ and fp32/ plans)
  local b=$1 name=$2 pd=$3
  local D=$b/tools/itscam/itscam_dump
  for prec in fp16 fp32; do
    for bs in 1 8 64; do
      $D "$pd/$prec/yolo11n.plan" cuda:0 $prec $bs "/tmp/${name}_${prec}_b$bs.bin" devdata/golden/bus_640.input.npy devdata/golden/zidane_640.input.npy 2>&1 \
        | tee -a "$OUT/hash_$name.txt"
    done
  done
}
bench() {  # build-dir name plan [extra args]
  local b=$1 name=$2 plan=$3; shift 3
  $b/tools/itscam/itscam bench model --model "$plan" --device cuda:0 --precision fp16 --batch $BATCHES --iters ${ITERS:-100} \
     --warmup 20 "$@" --json "$OUT/bench_$name.json" 2>&1 | grep -E "gpu time|end to end" | tee -a "$S"
}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,utilization.gpu --format=csv | tee -a "$S"
if [ "$STAGE" = before ]; then
  mkdir -p /tmp/before && tar -xzf devdata/verify/before.tar.gz -C /tmp/before
  log "build before"
  build /tmp/before /tmp/build-before before 16 || exit 1
  log "optimize (cuda plans fp16 'fast' and fp32 'accurate', before build)"
  I=/tmp/build-before/tools/itscam/itscam
  [ -f devdata/plans_cuda/fp16/yolo11n.plan ] || $I optimize --input-dir devdata/portable --output-dir devdata/plans_cuda/fp16 --device cuda:0 \
     --target-performance fast --batch-sizes $BATCHES 2>&1 | tail -3 | tee -a "$S"
  [ -f devdata/plans_cuda/fp32/yolo11n.plan ] || $I optimize --input-dir devdata/portable --output-dir devdata/plans_cuda/fp32 --device cuda:0 \
     --target-performance accurate --batch-sizes 1,8,64 2>&1 | tail -3 | tee -a "$S"
  log "dumps before"; dumps /tmp/build-before before devdata/plans_cuda
  log "bench before"; bench /tmp/build-before before devdata/plans_cuda/fp16/yolo11n.plan
  log "torch peer"
  $PY bench/torch_peer.py --model devdata/models/yolo11n.onnx --batch $BATCHES --iters 100 --json "$OUT/torch_peer_before.json" 2>&1 | tail -8 | tee -a "$S"
fi

if [ "$STAGE" = final ]; then
  [ -d build-before-src ] || { mkdir -p build-before-src && tar -xzf devdata/verify/before.tar.gz -C build-before-src; }
  log "build before + after"
  build build-before-src build-before before 8 & pb=$!
  build . build-after after 8 cuda_kernels_test cuda_backend_test gpu_vision_test cuda_device_test itscam_backend_ops & pa=$!
  wait $pb || exit 1; wait $pa || exit 1
  log "dumps before/after (same plans)"
  dumps build-before before devdata/plans_cuda; dumps build-after after devdata/plans_cuda
  $PY - <<'PYEOF' 2>&1 | tee -a "$S"
import numpy as np, itertools
for prec, bs in itertools.product(["fp16", "fp32"], [1, 8, 64]):
    a = np.fromfile(f"/tmp/before_{prec}_b{bs}.bin", np.float32); b = np.fromfile(f"/tmp/after_{prec}_b{bs}.bin", np.float32)
    same = a.tobytes() == b.tobytes()
    d = np.abs(a.reshape(bs, 84, -1) - b.reshape(bs, 84, -1))
    print(f"{prec} b{bs}: {'BIT-IDENTICAL' if same else 'differs'} max|box d|={d[:, :4].max():.3g} max|score d|={d[:, 4:].max():.3g} n_diff={int((a != b).sum())}")
PYEOF
  log "bench after, before, after (gpu time per replay, fp16 plan)"
  ITERS=60 bench build-after after1 devdata/plans_cuda/fp16/yolo11n.plan
  ITERS=60 bench build-before before devdata/plans_cuda/fp16/yolo11n.plan
  ITERS=60 bench build-after after2 devdata/plans_cuda/fp16/yolo11n.plan --e2e
  log "optimize without --device (expects cuda:0)"
  build-after/tools/itscam/itscam optimize --input-dir devdata/portable --output-dir /tmp/optdef --batch-sizes 1 \
     --target-performance balanced 2>&1 | grep -E "using|yolo11n" | tee -a "$S"
  log "GPU tests (after)"
  export ITSCAM_TEST_MODEL=devdata/portable/yolo11n.plan ITSCAM_GOLDEN_DIR=devdata/golden
  for t in cuda_device_test cuda_kernels_test gpu_vision_test cuda_backend_test; do
    f=$(find build-after/tests -name $t -type f | head -1)
    timeout 150 "$f" --gtest_brief=1 > "/tmp/test_$t.log" 2>&1
    echo "$t exit $? : $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "/tmp/test_$t.log" | tr '\n' ' ')" | tee -a "$S"
    grep -E "^\[  FAILED" "/tmp/test_$t.log" | head -20 | tee -a "$S"
  done
  f=$(find build-after/tests -name itscam_backend_ops -type f | head -1)
  timeout 150 "$f" --gtest_filter='*_cuda' --gtest_brief=1 > "/tmp/test_backend_ops.log" 2>&1
  echo "backend_ops(cuda) exit $? : $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "/tmp/test_backend_ops.log" | tr '\n' ' ')" | tee -a "$S"
  grep -E "^\[  FAILED" "/tmp/test_backend_ops.log" | head -20 | tee -a "$S"
  grep -B12 -E "^\[  FAILED  \] .*\(" /tmp/test_backend_ops.log | head -60 > "$OUT/backend_ops_failures.txt"
fi
log done
