#!/usr/bin/env bash
# HTTP load test: `itscam run` on a looping sample clip, then wrk against /health/performance and /metrics while
# the pipeline runs. Prints wrk's summary per endpoint and fails on any socket error or non-2xx answer.
# usage: tools/bench/load_test.sh [--itscam BIN] [--shared DIR] [--seconds 10] [--connections 16] [--threads 2]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=./build/tools/itscam/itscam shared=${ITSCAM_SHARED_DIR:-../shared} seconds=10 conns=16 threads=2
while [ $# -gt 0 ]; do
    case $1 in
        --itscam) bin=$2; shift 2;;
        --shared) shared=$2; shift 2;;
        --seconds) seconds=$2; shift 2;;
        --connections) conns=$2; shift 2;;
        --threads) threads=$2; shift 2;;
        -h|--help) sed -n 2,4p "$0"; exit 0;;
        *) echo "load_test.sh: unknown option $1" >&2; exit 2;;
    esac
done
command -v wrk >/dev/null || { echo "load_test.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
cat > "$work/load.yaml" <<YAML
model: $shared/models/yolo11n.onnx
server: { port: 0 }
history: { enabled: false }
pipeline: { max_batch_size: 1 }
fallback: { enabled: false }
cameras:
  - { id: cam, url: $shared/data/videos/urban_road_cctv_360p.mp4, loop: true, max_fps: 10 }
YAML
"$bin" run --config "$work/load.yaml" --status-interval 0 > "$work/run.log" 2>&1 &
pid=$!
port=""
for _ in $(seq 1 600); do
    port=$(grep -o 'HTTP API on http://127.0.0.1:[0-9]*' "$work/run.log" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "load_test.sh: itscam did not start:"; cat "$work/run.log"; exit 1; }
ready=0
for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET /health/ready HTTP/1.0\r\n\r\n' >&3 && head -n 1 <&3 | grep -q " 200 "); then
        ready=1; break
    fi
    sleep 0.1
done
[ $ready = 1 ] || { echo "load_test.sh: never ready"; cat "$work/run.log"; exit 1; }
status=0
for path in /health/performance /metrics; do
    out=$(wrk -t "$threads" -c "$conns" -d "${seconds}s" --latency "http://127.0.0.1:$port$path")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    bad=$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$out")
    errs=$(grep -o 'Socket errors:.*' <<<"$out" || true)
    echo "$path: ${rps} req/s, latency p99 ${p99}, non-2xx ${bad:-0}${errs:+, $errs}"
    if [ -n "$bad" ] || [ -n "$errs" ]; then status=1; echo "$out"; fi
done
frames=$( (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET /health/performance HTTP/1.0\r\n\r\n' >&3 && cat <&3) \
          | grep -o '"frames_processed":[0-9]*' | head -n 1)
echo "pipeline kept running under load: ${frames}"
exit $status
