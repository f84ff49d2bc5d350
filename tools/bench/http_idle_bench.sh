#!/usr/bin/env bash
# HTTP server benchmark: `itscam run` (no cameras, so only the server works), then
#   1. wrk against /health (requests/s, latency p99);
#   2. /health, /health/ready and /metrics timed one by one (fresh connection each, curl) while N idle connections
#      and N/10 slow ones (a request line, then a header byte every second) are held open.
# usage: tools/bench/http_idle_bench.sh [--itscam BIN] [--idle 1000] [--seconds 5] [--connections 16] [--threads 2]
#                                       [--legacy]   (--legacy: a config without the connection-cap settings, for
#                                                    the cpp-httplib server of the base commit)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=./build/tools/itscam/itscam shared=${ITSCAM_SHARED_DIR:-../shared} idle=1000 seconds=5 conns=16 threads=2 legacy=0
while [ $# -gt 0 ]; do
    case $1 in
        --itscam) bin=$2; shift 2;;
        --idle) idle=$2; shift 2;;
        --seconds) seconds=$2; shift 2;;
        --connections) conns=$2; shift 2;;
        --threads) threads=$2; shift 2;;
        --legacy) legacy=1; shift;;
        -h|--help) sed -n 2,7p "$0"; exit 0;;
        *) echo "http_idle_bench.sh: unknown option $1" >&2; exit 2;;
    esac
done
command -v wrk >/dev/null || { echo "http_idle_bench.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
ulimit -n 8192 2>/dev/null || true
work=$(mktemp -d)
pid="" holder=""
trap 'kill $holder 2>/dev/null; kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
caps=""
# Every client of this benchmark is 127.0.0.1: the per-client cap must admit the idle ones and the probes.
[ $legacy = 1 ] || caps=", max_connections: $((idle * 2 + 100)), max_connections_per_client: $((idle * 2 + 100))"
cat > "$work/bench.yaml" <<YAML
model: $shared/models/yolo11n.onnx
server: { port: 0$caps }
history: { enabled: false }
pipeline: { max_batch_size: 1 }
fallback: { enabled: false }
cameras: []
YAML
"$bin" run --config "$work/bench.yaml" --status-interval 0 > "$work/run.log" 2>&1 &
pid=$!
port=""
for _ in $(seq 1 600); do
    port=$(grep -o 'HTTP API on http://127.0.0.1:[0-9]*' "$work/run.log" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "http_idle_bench.sh: itscam did not start:"; cat "$work/run.log"; exit 1; }
sleep 1
out=$(wrk -t "$threads" -c "$conns" -d "${seconds}s" --latency "http://127.0.0.1:$port/health")
echo "wrk /health (-t$threads -c$conns ${seconds}s): $(awk '/^Requests\/sec/ {print $2}' <<<"$out") req/s," \
     "p99 $(awk '$1 == "99%" {print $2}' <<<"$out")$(grep -o ', Socket errors:.*' <<<"$out" || true)"
# Hold the idle and slow connections.
python3 - "$port" "$idle" > "$work/holder.log" 2>&1 <<'PY' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
idle, slow = [], []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port)); idle.append(s)
for i in range(n // 10):
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(b"GET /health HTTP/1.1\r\nX-Slow: "); slow.append(s)
print("held", len(idle), "idle and", len(slow), "slow", flush=True)
while True:
    time.sleep(1)
    for s in slow:
        try: s.sendall(b"x")
        except OSError: pass
PY
holder=$!
for _ in $(seq 1 100); do grep -q held "$work/holder.log" 2>/dev/null && break; sleep 0.1; done
cat "$work/holder.log"
sleep 1
for path in /health /health/ready /metrics /health /health/ready /metrics; do
    t=$(curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}' "http://127.0.0.1:$port$path" || true)
    echo "with $idle idle + $((idle / 10)) slow held: GET $path -> $t s"
done
out=$(wrk -t 1 -c 4 -d "${seconds}s" --latency "http://127.0.0.1:$port/health")
echo "wrk /health (-t1 -c4 ${seconds}s) with the connections held: $(awk '/^Requests\/sec/ {print $2}' <<<"$out")" \
     "req/s, p50 $(awk '$1 == "50%" {print $2}' <<<"$out"), p99 $(awk '$1 == "99%" {print $2}' <<<"$out")" \
     "$(grep -o 'Socket errors:.*' <<<"$out" || true)"
