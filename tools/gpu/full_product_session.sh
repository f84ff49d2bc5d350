#!/usr/bin/env bash
# The whole product on the GPU machine (no FFmpeg, service libraries or package manager there): unpack the bundle of
# tools/gpu/pack_product.sh, build itscam with CUDA + FFmpeg + service + streaming + YAML, then detect on a PPM (the
# build has no OpenCV), `bench pipeline` on a real H.264 clip (CPU decode -> GPU), `run` with two file cameras to a
# JSON Lines sink, and `serve`: `itscam run` with the HTTP API and live streams over SERVE_CAMERAS file cameras,
# checked with curl (health, performance, metrics, cameras, latest detections, a few seconds of the live fMP4).
# Run from the repository root; carried (git-ignored) inputs, overridable by the variables in brackets:
#   devdata/product-debian12.tar.xz [PRODUCT_PACK]  tools/gpu/pack_product.sh
#   devdata/portable/yolo11n.plan   [PLAN]         a portable plan (itscam optimize --device portable)
#   devdata/clips/highway_720p.mp4  [CLIP]         an H.264 clip: 10 s of
#                                                  ../shared/data/videos/highway_overpass_trucks_720p.mp4
#   devdata/images/bus.jpg, devdata/images/bus_640.json [IMAGES]  ../shared/data/images/bus.jpg and its golden
#   devdata/openssl-include.tar.xz  [OPENSSL_HEADERS]  only where the machine lacks OpenSSL headers: include/openssl
# Stages (arguments, default all): build detect bench run serve. Results in $OUT: summary.txt and one log per stage.
# CAMERAS/DURATION set the bench; RUN_BATCH/RUN_PRECISION the run's max_batch_size (2) and precision (fp16);
# serve: SERVE_CAMERAS (6), SERVE_DEVICE (cuda:0), SERVE_PRECISION (RUN_PRECISION), SERVE_BATCH (8), SERVE_PORT
# (0: any free loopback port), SERVE_SECONDS (20: the cameras run this long before the performance and metrics
# checks), LIVE_SECONDS (3: how much of the live stream to fetch into $OUT/live.mp4).
set -uo pipefail
OUT=${OUT:-/tmp/itscam-out}
mkdir -p "$OUT"
S=$OUT/summary.txt
STAGES=${*:-build detect bench run serve}
PRODUCT_PACK=${PRODUCT_PACK:-devdata/product-debian12.tar.xz}
PLAN=${PLAN:-devdata/portable/yolo11n.plan}
CLIP=${CLIP:-devdata/clips/highway_720p.mp4}
IMAGES=${IMAGES:-devdata/images}
OPENSSL_HEADERS=${OPENSSL_HEADERS:-devdata/openssl-include.tar.xz}
CAMERAS=${CAMERAS:-8,32}
DURATION=${DURATION:-15}
RUN_BATCH=${RUN_BATCH:-2}
RUN_PRECISION=${RUN_PRECISION:-fp16}
SERVE_CAMERAS=${SERVE_CAMERAS:-6}
SERVE_DEVICE=${SERVE_DEVICE:-cuda:0}
SERVE_PRECISION=${SERVE_PRECISION:-$RUN_PRECISION}
SERVE_BATCH=${SERVE_BATCH:-8}
SERVE_PORT=${SERVE_PORT:-0}
SERVE_SECONDS=${SERVE_SECONDS:-20}
LIVE_SECONDS=${LIVE_SECONDS:-3}
B=${BUILD_DIR:-build-gpu-product}
I=$B/tools/itscam/itscam
# NVDEC: on when the ffnvcodec headers are carried (devdata/gpu/ffnvcodec, from Debian's libffmpeg-nvenc-dev).
[ -d devdata/gpu/ffnvcodec/pkgconfig ] && export PKG_CONFIG_PATH=$PWD/devdata/gpu/ffnvcodec/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
has() { [[ " $STAGES " == *" $1 "* ]]; }
log() { echo "== $(date +%T) $*" | tee -a "$S"; }

log "product bundle: $PRODUCT_PACK"
source tools/gpu/use_product.sh "$PRODUCT_PACK" /tmp/product-debian12 2>> "$S" || exit 1
echo "pkg-config: $(command -v pkg-config); libavcodec $(pkg-config --modversion libavcodec)," \
     "cpp-httplib $(pkg-config --modversion cpp-httplib), sqlite3 $(pkg-config --modversion sqlite3)," \
     "libmosquitto $(pkg-config --modversion libmosquitto)" | tee -a "$S"

if has build; then
  log build
  CFG=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DITSCAM_WITH_CUDA=ON -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc
       -DITSCAM_WITH_FFMPEG=ON -DITSCAM_WITH_ONNX=OFF -DITSCAM_WITH_ONEDNN=OFF -DITSCAM_WITH_OPENCV=OFF
       -DITSCAM_WITH_SERVICE=ON -DITSCAM_WITH_YAML=ON -DITSCAM_BUILD_BENCH=OFF)
  # GPU_TESTS=1: also the GPU test suites (tools/gpu/gpu_suites.sh runs them), with ITSCAM_SHARED_DIR at the carried
  # subset devdata/shared.
  targets=(itscam)
  if [ "${GPU_TESTS:-0}" = 1 ]; then
    CFG+=(-DITSCAM_BUILD_TESTS=ON -DITSCAM_SHARED_DIR="$PWD/devdata/shared")
    # TEST_TARGETS: a subset (the op suite alone is a third of the build).
    read -r -a tt <<< "${TEST_TARGETS:-itscam_backend_ops cuda_backend_test cuda_kernels_test cuda_device_test gpu_vision_test itscam_nvdec_tests}"
    targets+=("${tt[@]}")
  else
    CFG+=(-DITSCAM_BUILD_TESTS=OFF)
  fi
  if [ ! -f /usr/include/openssl/evp.h ]; then
    mkdir -p /tmp/openssl && tar -C /tmp/openssl -xJf "$OPENSSL_HEADERS" || exit 1
    crypto=$(/sbin/ldconfig -p | awk '/libcrypto\.so\.3 \(libc6,x86-64\)/{print $NF; exit}')
    ssl=$(/sbin/ldconfig -p | awk '/libssl\.so\.3 \(libc6,x86-64\)/{print $NF; exit}')
    echo "no system OpenSSL headers: headers from $OPENSSL_HEADERS, libraries $crypto $ssl" | tee -a "$S"
    CFG+=(-DOPENSSL_INCLUDE_DIR=/tmp/openssl/include -DOPENSSL_CRYPTO_LIBRARY="$crypto" -DOPENSSL_SSL_LIBRARY="$ssl")
  fi
  t0=$(date +%s)
  cmake -S . -B "$B" "${CFG[@]}" > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log" | tee -a "$S"; exit 1; }
  grep -E "FFmpeg|OpenSSL|cuDNN|NVDEC|itscam CLI" "$OUT/build.log" | tee -a "$S"
  grep -E "^(prometheus-cpp_DIR|HTTPLIB_INCLUDE_DIRS|SQLITE3_LIBRARY_DIRS|MOSQUITTO_LIBRARY_DIRS|yaml-cpp_DIR|Boost_DIR)" \
    "$B/CMakeCache.txt" | tee -a "$S"
  ninja -C "$B" -k 0 -j"$(nproc)" "${targets[@]}" >> "$OUT/build.log" 2>&1 \
    || { grep -E "error|FAILED|undefined|not found" -A3 "$OUT/build.log" | head -60 | tee -a "$S"; exit 1; }
  echo "built ${targets[*]} in $(( $(date +%s) - t0 )) s" | tee -a "$S"
  ldd "$I" | grep -E "libav|libsw|libx264|httplib|sqlite|mosquitto|prometheus|yaml|libssl|not found" | tee -a "$S"
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
if has serve; then
  log "serve: itscam run with the HTTP API and streaming, $SERVE_CAMERAS file cameras of $CLIP (looped, realtime)" \
      "on $SERVE_DEVICE, $SERVE_PRECISION, max batch $SERVE_BATCH"
  W=/tmp/serve
  rm -rf "$W" && mkdir -p "$W"
  { cat <<EOF
device: $SERVE_DEVICE
precision: $SERVE_PRECISION
model: $PLAN
server: { enabled: true, host: 127.0.0.1, port: $SERVE_PORT }
history: { path: $W/history.db, sample_interval_s: 1 }
streaming: { enabled: true }
fallback: { enabled: false }
pipeline: { max_batch_size: $SERVE_BATCH }
cameras:
EOF
    for c in $(seq 1 "$SERVE_CAMERAS"); do echo "  - { id: cam$c, url: $CLIP, loop: true, realtime: true }"; done
  } > "$W/serve.yaml"
  cp "$W/serve.yaml" "$OUT/serve.yaml"
  # get PATH NAME [SECONDS]: the body into $OUT/serve_NAME, prints the HTTP status (curl, or python3's urllib).
  get() {
    if command -v curl > /dev/null; then
      curl -sS -N -m "${3:-10}" -o "$OUT/serve_$2" -w '%{http_code}' "http://127.0.0.1:$port$1" 2>> "$OUT/serve_curl.log"
    else
      timeout "${3:-10}" python3 -c 'import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=10); code = r.status
except urllib.error.HTTPError as e:
    r = e; code = e.code
print(code, flush=True)
with open(sys.argv[2], "wb") as f:
    while True:
        b = r.read1(65536)
        if not b: break
        f.write(b); f.flush()' "http://127.0.0.1:$port$1" "$OUT/serve_$2" | head -c 3
    fi
  }
  check() {  # check PATH NAME: one line in the summary; status 0 on HTTP 200
    local code; code=$(get "$1" "$2")
    echo "GET $1 -> ${code:-none}, $(wc -c < "$OUT/serve_$2" 2> /dev/null || echo 0) bytes (serve_$2)" | tee -a "$S"
    [ "$code" = 200 ]
  }
  # Ready once the engines are built: from the plan cache (runs/plan_cache) or autotuned now (minutes). Status 1
  # when the server is gone.
  wait_ready() {
    local t0; t0=$(date +%s)
    for _ in $(seq 1 480); do
      [ "$(get /health/ready ready.json)" = 200 ] && break
      kill -0 $pid 2> /dev/null || return 1
      sleep 1
    done
    echo "serve: HTTP API on 127.0.0.1:$port (pid $pid), ready after $(( $(date +%s) - t0 )) s" | tee -a "$S"
  }
  $I run --config "$W/serve.yaml" --status-interval 10 > "$OUT/serve.log" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 1 600); do
    port=$(grep -o 'HTTP API on https\?://127.0.0.1:[0-9]*' "$OUT/serve.log" | grep -o '[0-9]*$' | head -1)
    [ -n "$port" ] && break
    kill -0 $pid 2> /dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "serve: no HTTP port announced; log tail:" | tee -a "$S"; tail -20 "$OUT/serve.log" | tee -a "$S"
    kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
  elif ! { check /health health.json; wait_ready; }; then
    wait $pid; echo "serve: itscam run exited early, status $?; log tail:" | tee -a "$S"
    tail -20 "$OUT/serve.log" | tee -a "$S"
  else
    check /health/ready ready.json
    sleep "$SERVE_SECONDS"
    check /health/performance performance.json
    python3 tools/gpu/serve_checks.py performance "$OUT/serve_performance.json" "$SERVE_DEVICE" 2>&1 | tee -a "$S"
    check /metrics metrics.txt
    grep -E '^itscam_(fps|frames_processed_total|ready|device_busy_ratio|device_frames_total|gpu_utilization_ratio|gpu_memory_used_bytes|camera_fps|camera_frames_processed_total)[{ ]' \
      "$OUT/serve_metrics.txt" | grep -vE 'camera="cam([2-9]|[1-9][0-9])"' | head -20 | tee -a "$S"
    echo "metrics: $(grep -c '^itscam_' "$OUT/serve_metrics.txt") itscam_ samples," \
         "$(grep -c "device=\"$SERVE_DEVICE\"" "$OUT/serve_metrics.txt") with device=\"$SERVE_DEVICE\"," \
         "$(grep -c '^itscam_gpu_[a-z_]*{gpu="0"' "$OUT/serve_metrics.txt") itscam_gpu_* with gpu=\"0\"" | tee -a "$S"
    check /api/v1/cameras cameras.json
    python3 tools/gpu/serve_checks.py cameras "$OUT/serve_cameras.json" 2>&1 | tee -a "$S"
    check /api/v1/cameras/cam1/detections/latest latest_cam1.json
    python3 tools/gpu/serve_checks.py latest "$OUT/serve_latest_cam1.json" 2>&1 | tee -a "$S"
    # The live stream: chunked fMP4 for as long as the viewer stays; LIVE_SECONDS of it.
    code=$(get /streams/cam1/live.mp4 live.mp4 "$LIVE_SECONDS")
    mv "$OUT/serve_live.mp4" "$OUT/live.mp4" 2> /dev/null
    echo "GET /streams/cam1/live.mp4 for $LIVE_SECONDS s -> ${code:-none}" | tee -a "$S"
    python3 tools/gpu/serve_checks.py live "$OUT/live.mp4" 2>&1 | tee -a "$S"
    check /api/v1/streams streams.json
    grep -iE "error|warn|fail" "$OUT/serve.log" | head -8 | tee -a "$S"
    kill -TERM $pid
    for _ in $(seq 1 300); do kill -0 $pid 2> /dev/null || break; sleep 0.1; done
    if kill -0 $pid 2> /dev/null; then
      echo "serve: still running 30 s after SIGTERM: SIGKILL" | tee -a "$S"; kill -9 $pid
    fi
    wait $pid; echo "serve: itscam run exit $? after SIGTERM" | tee -a "$S"
    tail -6 "$OUT/serve.log" | tee -a "$S"
  fi
fi
log done
