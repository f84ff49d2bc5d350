#!/usr/bin/env bash
# The GPU-resident pipeline on the GPU machine: build itscam with CUDA + FFmpeg + NVDEC (FFmpeg from the
# bundle of tools/gpu/pack_product.sh, the ffnvcodec headers carried), check the GPU letterbox on NV12 pictures,
# then run one file camera through `itscam run` (lossless: every frame) with CPU and with NVDEC decoding, at
# batch 1 and 2, fp16 and fp32, and compare the sinks frame by frame (tools/gpu/compare_sinks.py); last, `bench pipeline` with
# --decode cpu and nvdec. Run from the repository root with these carried (git-ignored):
#   devdata/product-debian12.tar.xz [PRODUCT_PACK]   devdata/clips/highway_720p.mp4 [CLIP]
#   devdata/gpu/ffnvcodec/ (include/ffnvcodec, pkgconfig/ffnvcodec.pc from Debian's libffmpeg-nvenc-dev)
#   devdata/portable/yolo11n.plan [PLAN]
# BUILD_DIR: use (or build into) another build folder, e.g. full_product_session.sh's. Stages (arguments; default
# all but repeat): build letterbox runs repeat bench suite (suite: EXTRA_TARGETS="itscam_backend_ops
# cuda_backend_test cuda_kernels_test" at build). Results in $OUT (summary.txt, logs, sinks).
set -uo pipefail
OUT=${OUT:-/tmp/itscam-out}
mkdir -p "$OUT"
S=$OUT/summary.txt
STAGES=${*:-build letterbox runs bench suite}
PRODUCT_PACK=${PRODUCT_PACK:-devdata/product-debian12.tar.xz}
CLIP=${CLIP:-devdata/clips/highway_720p.mp4}
PLAN=${PLAN:-devdata/portable/yolo11n.plan}
PY=/opt/torch/.venv/bin/python3
[ -x $PY ] || PY=python3
B=${BUILD_DIR:-build-gpu-nvdec}
I=$B/tools/itscam/itscam
has() { [[ " $STAGES " == *" $1 "* ]]; }
log() { echo "== $(date +%T) $*" | tee -a "$S"; }

source tools/gpu/use_product.sh "$PRODUCT_PACK" /tmp/product-debian12 2>> "$S" || exit 1
export PKG_CONFIG_PATH=$PWD/devdata/gpu/ffnvcodec/pkgconfig:$PKG_CONFIG_PATH

if has build; then
  log build
  t0=$(date +%s)
  cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DITSCAM_WITH_CUDA=ON -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc \
    -DITSCAM_WITH_FFMPEG=ON -DITSCAM_WITH_ONNX=OFF -DITSCAM_WITH_ONEDNN=OFF -DITSCAM_WITH_OPENCV=OFF \
    -DITSCAM_WITH_SERVICE=OFF -DITSCAM_BUILD_BENCH=OFF > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log" | tee -a "$S"; exit 1; }
  grep -iE "nvdec|FFmpeg" "$OUT/build.log" | head -5 | tee -a "$S"
  ninja -C $B -j"$(nproc)" itscam gpu_vision_test ${EXTRA_TARGETS:-} >> "$OUT/build.log" 2>&1 \
    || { grep -E "error|FAILED|undefined" -A3 "$OUT/build.log" | head -60 | tee -a "$S"; exit 1; }
  echo "built in $(( $(date +%s) - t0 )) s" | tee -a "$S"
fi

if has letterbox; then
  log "GPU letterbox (NV12 device frames among them)"
  f=$(find $B/tests -name gpu_vision_test -type f | head -1)
  timeout 120 "$f" --gtest_filter='GpuLetterbox.*' --gtest_brief=1 > "$OUT/letterbox.log" 2>&1
  echo "gpu_vision_test(GpuLetterbox.*) exit $?: $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$OUT/letterbox.log" | tr '\n' ' ')" | tee -a "$S"
  grep -E "nv12|Failure" "$OUT/letterbox.log" | head -20 | tee -a "$S"
fi

run_one() {  # name decode batch precision [env...]; NCAM cameras of the same clip (default 1)
  local name=$1 decode=$2 batch=$3 prec=$4; shift 4
  local cams="" i
  for i in $(seq 1 "${NCAM:-1}"); do cams+="  - { id: highway$i, url: $CLIP, realtime: false, lossless: true }"$'\n'; done
  mkdir -p /tmp/run && rm -f "/tmp/run/$name.jsonl"
  cat > "/tmp/run/$name.yaml" <<YAML
device: cuda:0
precision: $prec
model: $PLAN
plan_cache_dir: /tmp/plans
server: { enabled: false }
fallback: { enabled: false }
pipeline: { max_batch_size: $batch, decode: $decode }
sinks: [ { type: jsonl, path: /tmp/run/$name.jsonl } ]
cameras:
$cams
YAML
  local t0=$(date +%s)
  env "$@" timeout 240 $I run --config "/tmp/run/$name.yaml" > "$OUT/run_$name.log" 2>&1
  local rc=$?
  local with=$(grep -c '"detections":\[{' "/tmp/run/$name.jsonl" 2>/dev/null)
  echo "run $name (decode $decode, batch $batch, $prec $*): exit $rc in $(( $(date +%s) - t0 )) s," \
       "$(wc -l < /tmp/run/$name.jsonl 2>/dev/null) records, $with with detections" | tee -a "$S"
  grep -iE "decoder|nvdec|error" "$OUT/run_$name.log" | head -4 | tee -a "$S"
  cp "/tmp/run/$name.jsonl" "$OUT/" 2>/dev/null
}

if has runs; then
  log "runs: lossless file cameras, every frame; compared with one camera at batch 1 on CPU decoding"
  run_one cpu_b1 cpu 1 fp16
  run_one nvdec_b1 nvdec 1 fp16
  run_one cpu_b2 cpu 2 fp16
  NCAM=8 run_one cpu_b8x8 cpu 8 fp16
  NCAM=8 run_one nvdec_b8x8 nvdec 8 fp16
  # CPU and NVDEC decoding feed the letterbox the same NV12 bytes: same batch size, same detections.
  echo "-- nvdec against cpu decoding, batch 1 and batch 8 (8 cameras):" | tee -a "$S"
  $PY tools/gpu/compare_sinks.py "$OUT/cpu_b1.jsonl" "$OUT/nvdec_b1.jsonl" --by-frame 2>&1 | tee -a "$S"
  $PY tools/gpu/compare_sinks.py "$OUT/cpu_b8x8.jsonl" "$OUT/nvdec_b8x8.jsonl" --by-frame 2>&1 | tee -a "$S"
  echo "-- batch 2 and batch 8 against batch 1 (cpu decoding):" | tee -a "$S"
  for o in cpu_b2 cpu_b8x8; do
    $PY tools/gpu/compare_sinks.py "$OUT/cpu_b1.jsonl" "$OUT/$o.jsonl" --by-frame 2>&1 | tee -a "$S"
  done
  grep -h "fused convolutions" "$OUT"/run_*.log | sort | uniq -c | head -8 | tee -a "$S"
fi

if has repeat; then
  log "repeat: the same run twice, CPU and NVDEC decoding, batch 1 (run to run, is the pipeline deterministic?)"
  for d in cpu nvdec; do
    run_one ${d}_b1 $d 1 fp16
    run_one ${d}_b1_again $d 1 fp16
    $PY tools/gpu/compare_sinks.py "$OUT/${d}_b1.jsonl" "$OUT/${d}_b1_again.jsonl" --by-frame 2>&1 | tee -a "$S"
  done
  $PY tools/gpu/compare_sinks.py "$OUT/cpu_b1.jsonl" "$OUT/nvdec_b1.jsonl" --by-frame 2>&1 | tee -a "$S"
  $PY tools/gpu/compare_sinks.py "$OUT/cpu_b1_again.jsonl" "$OUT/nvdec_b1_again.jsonl" --by-frame 2>&1 | tee -a "$S"
  for r in cpu_b1 cpu_b1_again nvdec_b1 nvdec_b1_again; do
    echo "$r: $(grep -hiE 'fused|reject|plan' "$OUT/run_$r.log" | sed 's/^[0-9TZ:.-]* //' | sort | uniq -c | tr '\n' ';')" | tee -a "$S"
  done
fi

bench_one() {  # name decode unified-memory-ratio workers
  log "bench pipeline $1: --decode $2 --unified-memory-ratio $3 --workers $4"
  timeout 300 $I bench pipeline --device cuda:0 --precision fp16 --model "$PLAN" --source "$CLIP" --decode "$2" \
    --unified-memory-ratio "$3" --workers "$4" --cameras "${CAMERAS:-64,96,128}" --max-batch "${MAX_BATCH:-16}" \
    --duration "${DURATION:-8}" --warmup 3 --json "$OUT/bench_$1.json" > "$OUT/bench_$1.log" 2>&1
  echo "bench $1 exit $?" | tee -a "$S"
  grep -E "^ *(cameras|[0-9]+) " "$OUT/bench_$1.log" | tee -a "$S"
}

if has bench; then
  # BENCHES: name:decode:unified-memory-ratio:workers ...
  for b in ${BENCHES:-cpu_pinned:cpu:0:1 cpu_mapped:cpu:1:1 nvdec:nvdec:0:1 nvdec_w2:nvdec:0:2 cpu_pinned_w2:cpu:0:2}; do
    IFS=: read -r name dec ratio workers <<< "$b"
    bench_one "$name" "$dec" "$ratio" "$workers"
  done
fi

if has suite; then
  log "CUDA op suite, backend and kernel tests"
  for t in itscam_backend_ops cuda_backend_test cuda_kernels_test; do
    f=$(find $B/tests -name "$t" -type f | head -1)
    [ -n "$f" ] || { echo "$t: not built" | tee -a "$S"; continue; }
    filter='*'; [ "$t" = itscam_backend_ops ] && filter='*_cuda'
    timeout 300 "$f" --gtest_filter="$filter" --gtest_brief=1 > "$OUT/suite_$t.log" 2>&1
    echo "$t exit $?: $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$OUT/suite_$t.log" | tr '\n' ' ')" | tee -a "$S"
    grep -E "^\[  FAILED  \]" "$OUT/suite_$t.log" | head -10 | tee -a "$S"
  done
fi
log done
