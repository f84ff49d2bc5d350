#!/usr/bin/env bash
# The product with FFmpeg on the GPU machine (no FFmpeg/OpenCV/oneDNN there, no package manager): unpack the FFmpeg
# set of tools/gpu/pack_ffmpeg.sh, build itscam with CUDA + FFmpeg, then detect on a PPM (the build has no OpenCV),
# `bench pipeline` on a real H.264 clip (CPU decode -> GPU) and `run` with two file cameras to a JSON Lines sink.
# Run from the repository root; carried (git-ignored) inputs, overridable by the variables in brackets:
#   devdata/ffmpeg-debian12.tar.xz  [FFMPEG_PACK]  tools/gpu/pack_ffmpeg.sh
#   devdata/portable/yolo11n.plan   [PLAN]         a portable plan (itscam optimize --device portable)
#   devdata/clips/highway_720p.mp4  [CLIP]         an H.264 clip: 10 s of
#                                                  ../shared/data/videos/highway_overpass_trucks_720p.mp4
#   devdata/images/bus.jpg, devdata/images/bus_640.json [IMAGES]  ../shared/data/images/bus.jpg and its golden
#   devdata/openssl-include.tar.xz  [OPENSSL_HEADERS]  only where the machine lacks OpenSSL headers: include/openssl
# Stages (arguments, default all): build detect bench run. Results in $OUT: summary.txt and one log per stage.
# CAMERAS/DURATION set the bench; RUN_BATCH/RUN_PRECISION the run's max_batch_size (2) and precision (fp16).
set -uo pipefail
OUT=${OUT:-/tmp/itscam-out}
mkdir -p "$OUT"
S=$OUT/summary.txt
STAGES=${*:-build detect bench run}
FFMPEG_PACK=${FFMPEG_PACK:-devdata/ffmpeg-debian12.tar.xz}
PLAN=${PLAN:-devdata/portable/yolo11n.plan}
CLIP=${CLIP:-devdata/clips/highway_720p.mp4}
IMAGES=${IMAGES:-devdata/images}
OPENSSL_HEADERS=${OPENSSL_HEADERS:-devdata/openssl-include.tar.xz}
CAMERAS=${CAMERAS:-8,32}
DURATION=${DURATION:-15}
RUN_BATCH=${RUN_BATCH:-2}
RUN_PRECISION=${RUN_PRECISION:-fp16}
B=${BUILD_DIR:-build-gpu-ffmpeg}
I=$B/tools/itscam/itscam
has() { [[ " $STAGES " == *" $1 "* ]]; }
log() { echo "== $(date +%T) $*" | tee -a "$S"; }

log "FFmpeg set: $FFMPEG_PACK"
source tools/gpu/use_ffmpeg.sh "$FFMPEG_PACK" /tmp/ffmpeg-debian12 2>> "$S" || exit 1
echo "pkg-config: $(command -v pkg-config); libavcodec $(pkg-config --modversion libavcodec)" | tee -a "$S"

if has build; then
  log build
  CFG=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DITSCAM_WITH_CUDA=ON -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc
       -DITSCAM_WITH_FFMPEG=ON -DITSCAM_WITH_ONNX=OFF -DITSCAM_WITH_ONEDNN=OFF -DITSCAM_WITH_OPENCV=OFF
       -DITSCAM_WITH_SERVICE=OFF -DITSCAM_BUILD_BENCH=OFF -DITSCAM_BUILD_TESTS=OFF)
  if [ ! -f /usr/include/openssl/evp.h ]; then
    mkdir -p /tmp/openssl && tar -C /tmp/openssl -xJf "$OPENSSL_HEADERS" || exit 1
    crypto=$(/sbin/ldconfig -p | awk '/libcrypto\.so\.3 \(libc6,x86-64\)/{print $NF; exit}')
    [ -n "$crypto" ] || crypto=$(ls "$FFMPEG_PREFIX"/lib/deps/libcrypto.so.3)
    echo "no system OpenSSL headers: headers from $OPENSSL_HEADERS, library $crypto" | tee -a "$S"
    CFG+=(-DOPENSSL_INCLUDE_DIR=/tmp/openssl/include -DOPENSSL_CRYPTO_LIBRARY="$crypto")
  fi
  t0=$(date +%s)
  cmake -S . -B "$B" "${CFG[@]}" > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log" | tee -a "$S"; exit 1; }
  grep -E "FFmpeg|OpenSSL|cuDNN|itscam CLI" "$OUT/build.log" | tee -a "$S"
  ninja -C "$B" -j"$(nproc)" itscam >> "$OUT/build.log" 2>&1 \
    || { grep -E "error|FAILED|undefined|not found" -A3 "$OUT/build.log" | head -60 | tee -a "$S"; exit 1; }
  echo "built itscam in $(( $(date +%s) - t0 )) s" | tee -a "$S"
  ldd "$I" | grep -E "libav|libsw|libx264|not found" | tee -a "$S"
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader | tee -a "$S"
fi

if has detect; then
  log "detect: PPM made from bus.jpg (python3 cv2), fp16 on cuda:0; a JPEG is refused in this build"
  python3 -c "import cv2, sys; cv2.imwrite(sys.argv[2], cv2.imread(sys.argv[1], cv2.IMREAD_COLOR))" \
    "$IMAGES/bus.jpg" /tmp/bus.ppm || exit 1
  $I detect --model "$PLAN" --device cuda:0 --precision fp16 --json "$OUT/detect_bus.json" /tmp/bus.ppm 2>&1 \
    | tee "$OUT/detect.log" | tee -a "$S"
  python3 tests/cli/compare_detections.py "$IMAGES/bus_640.json" "$OUT/detect_bus.json" --iou 0.95 --score 0.02 \
    2>&1 | tee -a "$S"
  $I detect --model "$PLAN" --device cuda:0 "$IMAGES/bus.jpg" >> "$OUT/detect.log" 2>&1
  echo "detect on bus.jpg exit $?: $(grep -o 'this build has no OpenCV[^;]*' "$OUT/detect.log" | head -1)" | tee -a "$S"
fi

if has bench; then
  log "bench pipeline: $CLIP looped, cameras $CAMERAS, ${DURATION} s each"
  $I bench pipeline --device cuda:0 --precision fp16 --model "$PLAN" --source "$CLIP" --cameras "$CAMERAS" \
    --max-batch 32 --duration "$DURATION" --warmup 5 --json "$OUT/bench_pipeline.json" -v > "$OUT/bench.log" 2>&1
  echo "bench exit $?" | tee -a "$S"
  grep -E "^ *(cameras|[0-9]+) " "$OUT/bench.log" | tee -a "$S"
fi

if has run; then
  log "run: two file cameras (realtime: false) -> JSON Lines, max batch $RUN_BATCH, $RUN_PRECISION"
  mkdir -p /tmp/run && rm -f /tmp/run/det.jsonl
  cat > /tmp/run/two.yaml <<EOF
device: cuda:0
precision: $RUN_PRECISION
model: $PLAN
server: { enabled: false }
fallback: { enabled: false }
pipeline: { max_batch_size: $RUN_BATCH }
sinks: [ { type: jsonl, path: /tmp/run/det.jsonl } ]
cameras:
  - { id: highway_a, url: $CLIP, realtime: false }
  - { id: highway_b, url: $CLIP, realtime: false }
EOF
  timeout 300 $I run --config /tmp/run/two.yaml --status-interval 5 > "$OUT/run.log" 2>&1
  echo "run exit $?" | tee -a "$S"
  grep -E "frames processed|ended|fps" "$OUT/run.log" | tail -8 | tee -a "$S"
  with=$(grep -c '"detections":\[{' /tmp/run/det.jsonl)
  echo "JSONL: $(wc -l < /tmp/run/det.jsonl) records, $with with detections" | tee -a "$S"
  head -n 20 /tmp/run/det.jsonl > "$OUT/run_det_head.jsonl"
fi
log done
