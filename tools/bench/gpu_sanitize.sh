#!/usr/bin/env bash
# Determinism and compute-sanitizer check of the CUDA backend on the GPU machine. Run from the repository root with
# the git-ignored devdata/ of gpu_before_after.sh carried (devdata/plans_cuda/{fp16,fp32}/yolo11n.plan, the golden
# inputs, devdata/openssl where the machine lacks OpenSSL headers). Writes $OUT/summary.txt and one log per tool.
#   1. each (precision, batch, graphs on/off, latency kernels) case run in 3 processes x 2 runs: hashes must agree;
#   2. compute-sanitizer initcheck / racecheck / synccheck / memcheck on the fp16 batch-8 engine (eager, so that a
#      report names the kernel launch rather than the graph).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
S="$OUT/summary.txt"
PY=/opt/torch/.venv/bin/python3
CS=/usr/local/cuda/bin/compute-sanitizer
R=$PWD
log() { echo "== $(date +%T) $*" | tee -a "$S"; }
$PY - <<'PYEOF'
import glob, numpy as np, cv2
for p in glob.glob("devdata/golden/*_640.input.png"):
    img = cv2.imread(p, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255.0
    np.save(p.replace(".input.png", ".input.npy"), np.ascontiguousarray(img.transpose(2, 0, 1)[None]))
PYEOF
CFG="-G Ninja -DCMAKE_BUILD_TYPE=Release -DITSCAM_WITH_CUDA=ON -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc
 -DITSCAM_WITH_ONNX=OFF -DITSCAM_WITH_ONEDNN=OFF -DITSCAM_WITH_OPENCV=OFF -DITSCAM_WITH_FFMPEG=OFF
 -DITSCAM_WITH_SERVICE=OFF -DITSCAM_BUILD_BENCH=OFF ${EXTRA_CMAKE:-}"
[ -f /usr/include/openssl/evp.h ] || CFG="$CFG -DOPENSSL_ROOT_DIR=$R/devdata/openssl"
B=${BUILD:-build-gpu}
if [ ! -x "$B/tools/itscam/itscam_dump" ] || [ "${REBUILD:-0}" = 1 ]; then
  grep -q itscam_dump tools/itscam/CMakeLists.txt || cat >> tools/itscam/CMakeLists.txt <<EOT
add_executable(itscam_dump $R/tools/bench/itscam_dump.cpp)
target_link_libraries(itscam_dump PRIVATE itscam_runtime)
EOT
  log "build"
  cmake -S . -B "$B" $CFG > "$OUT/build.log" 2>&1 && ninja -C "$B" -j16 itscam_dump ${TARGETS:-} >> "$OUT/build.log" 2>&1 \
    || { grep -E "error|FAILED" -A3 "$OUT/build.log" | head -40 | tee -a "$S"; exit 1; }
fi
D="$B/tools/itscam/itscam_dump"
IN="devdata/golden/bus_640.input.npy devdata/golden/zidane_640.input.npy"
if [ "${SKIP_DET:-0}" != 1 ]; then
  log "determinism (3 processes x 2 runs per case)"
  for c in ${CASES:-fp16:1:1:auto fp16:1:1:off fp16:2:1:auto fp16:8:1:auto fp16:8:0:auto fp32:8:1:auto}; do
    IFS=: read -r prec bs graphs lat <<< "$c"
    hs=()
    for i in 1 2 3; do
      o=$(ITSCAM_CUDA_GRAPHS=$graphs ITSCAM_CUDA_LATENCY_KERNELS=$lat $D devdata/plans_cuda/$prec/yolo11n.plan cuda:0 \
          $prec $bs /tmp/det_${prec}_${bs}_${graphs}_${lat}_$i.bin $IN 2>&1)
      echo "$o" | grep -q NONDETERMINISTIC && hs+=("in-process-differs")
      hs+=("$(echo "$o" | grep -o 'fnv=[0-9a-f]*')")
    done
    echo "$prec b$bs graphs=$graphs latency=$lat: ${hs[*]}" | tee -a "$S"
  done
fi
if [ "${SKIP_HASH:-0}" != 1 ]; then
  # 3. the first step whose buffers differ between runs of one input (ITSCAM_CUDA_STEP_HASH, eager)
  for c in ${HASH_CASES:-fp16:8}; do
    IFS=: read -r prec bs <<< "$c"
    log "step hashes $prec b$bs (3 runs, arena fill ${FILL:-none})"
    env ${FILL:+ITSCAM_CUDA_ARENA_FILL=$FILL} ITSCAM_CUDA_STEP_HASH=1 ITSCAM_DUMP_REPS=3 $D devdata/plans_cuda/$prec/yolo11n.plan cuda:0 $prec $bs /tmp/sh_${FILL:-x}.bin $IN \
      2> "$OUT/step_hash_${prec}_b${bs}_fill${FILL:-x}.log" | tee -a "$S"
    $PY - "$OUT/step_hash_${prec}_b${bs}_fill${FILL:-x}.log" <<'PYEOF' 2>&1 | tee -a "$S"
import sys, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    if line.startswith("step-hash run "):
        f = line.split(" [")[0].split()
        choice = line.split(" [", 1)[1].strip().rstrip("]") if " [" in line else ""
        runs[int(f[2])].append((f[4], f[5], [t for t in f[6:] if "=" in t], choice))
print("runs:", {k: len(v) for k, v in runs.items()})
if 0 in runs:
    nd = [(i, n, c) for i, n, h, c in runs[0] if "nondeterministic" in c]
    print(f"convolutions on engines cuDNN notes as nondeterministic: {len(nd)}", [n for _, n, _ in nd][:12])
for a, b in [(0, 1), (1, 2), (0, 2)]:
    if a not in runs or b not in runs: continue
    diffs = [i for i, (x, y) in enumerate(zip(runs[a], runs[b])) if x[2] != y[2]]
    print(f"run {a} vs {b}: {len(diffs)} steps differ")
    for i in diffs[:6]:
        x, y = runs[a][i], runs[b][i]
        print("  ", x[0], x[1], "differs:", sorted({p.split("=")[0] for p, q in zip(x[2], y[2]) if p != q}),
              "same:", sorted({p.split("=")[0] for p, q in zip(x[2], y[2]) if p == q}), x[3])
PYEOF
  done
fi
for tool in ${TOOLS:-initcheck racecheck synccheck memcheck}; do
  log "compute-sanitizer $tool (fp16 b${SAN_BATCH:-8}, eager)"
  ITSCAM_CUDA_GRAPHS=0 timeout ${SAN_TIMEOUT:-240} $CS --tool $tool --print-limit 40 ${SAN_ARGS:-} \
    $D devdata/plans_cuda/fp16/yolo11n.plan cuda:0 fp16 ${SAN_BATCH:-8} /tmp/san.bin $IN > "$OUT/san_$tool.log" 2>&1
  echo "$tool exit $?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/san_$tool.log" | tr '\n' ' ')" | tee -a "$S"
  grep -E "^=========  *(Uninitialized|Invalid|Race|Barrier|Error|.*hazard)" -A3 "$OUT/san_$tool.log" | head -30 | tee -a "$S"
done
log done
