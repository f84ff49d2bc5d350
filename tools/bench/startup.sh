#!/usr/bin/env bash
# Start-up and memory benchmark of `itscam run`: one looping 360p camera on the CPU with the default pipeline
# settings (batching, fallback, warm-up, HTTP API on a free port, history), as in docs/benchmarks.md.
# Each run starts `itscam run`, measures the time from the process start to the first detection record in the JSONL
# sink, lets the pipeline serve for --serve seconds, reads the process's peak resident memory (VmHWM), and stops it
# with SIGTERM. Prints one line per run and the medians (the machines are shared and noisy: use several runs).
#
# usage: tools/bench/startup.sh [--itscam BIN] [--shared DIR] [--runs 3] [--serve 10] [--cache cold|cached|none]
#   --cache cold    every run starts with an empty plan cache (the first start after installing a model)
#   --cache cached  one unmeasured run fills the plan cache, then every run reads it
#   --cache none    the config names no plan cache (for binaries older than the plan cache)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=./build/tools/itscam/itscam shared=${ITSCAM_SHARED_DIR:-../shared} runs=3 serve=10 cache=cold
while [ $# -gt 0 ]; do
    case $1 in
        --itscam) bin=$2; shift 2;;
        --shared) shared=$2; shift 2;;
        --runs) runs=$2; shift 2;;
        --serve) serve=$2; shift 2;;
        --cache) cache=$2; shift 2;;
        -h|--help) sed -n 2,12p "$0"; exit 0;;
        *) echo "startup.sh: unknown option $1" >&2; exit 2;;
    esac
done
case $cache in cold|cached|none) ;; *) echo "startup.sh: --cache must be cold, cached or none" >&2; exit 2;; esac
[ -x "$bin" ] || { echo "startup.sh: no itscam binary at $bin (build it, or pass --itscam)" >&2; exit 2; }
clip=$shared/data/videos/urban_road_cctv_360p.mp4
[ -f "$clip" ] || { echo "startup.sh: $clip not found (pass --shared)" >&2; exit 2; }
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -KILL $pid 2>/dev/null; rm -rf "$work"' EXIT

cache_line=""
[ "$cache" != none ] && cache_line="plan_cache_dir: $work/plans"
cat > "$work/run.yaml" <<YAML
model: $shared/models/yolo11n.onnx
$cache_line
server: { port: 0 }
history: { path: $work/history.db }
sinks: [ { type: jsonl, path: $work/det.jsonl } ]
cameras:
  - { id: cam, url: $clip, loop: true }
YAML

# one_run: prints "<seconds to first detection> <peak RSS MB>".
one_run() {
    rm -f "$work/det.jsonl"
    local t0 t1
    t0=$(date +%s.%N)
    "$bin" run --config "$work/run.yaml" --status-interval 0 > "$work/run.log" 2>&1 &
    pid=$!
    while [ ! -s "$work/det.jsonl" ]; do
        if ! kill -0 $pid 2>/dev/null; then echo "startup.sh: itscam exited before a detection:" >&2; cat "$work/run.log" >&2; exit 1; fi
        sleep 0.02
    done
    t1=$(date +%s.%N)
    sleep "$serve"
    local hwm
    hwm=$(awk '/^VmHWM:/ { print $2 }' /proc/$pid/status)
    kill -TERM $pid
    wait $pid || { echo "startup.sh: itscam exited with $? after SIGTERM:" >&2; cat "$work/run.log" >&2; exit 1; }
    pid=""
    echo "$(echo "$t1 - $t0" | bc -l) $(echo "$hwm / 1024" | bc -l)"
}

if [ "$cache" = cached ]; then one_run > /dev/null; fi
: > "$work/results"
for i in $(seq 1 "$runs"); do
    [ "$cache" = cold ] && rm -rf "$work/plans"
    r=$(one_run)
    echo "$r" >> "$work/results"
    printf 'run %d: first detection %.1f s, peak RSS %.0f MB\n' "$i" $r
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
t=$(cut -d' ' -f1 "$work/results" | median)
m=$(cut -d' ' -f2 "$work/results" | median)
printf 'median of %d runs (plan cache: %s): first detection %.1f s, peak RSS %.0f MB\n' "$runs" "$cache" "$t" "$m"
