#!/usr/bin/env bash
# Side-by-side benchmark of itscam and ONNX Runtime on the same model, machine and thread count, interleaved
# round by round so both see the same machine load. Prints each round and the median ratio itscam / ORT.
#
# usage: tools/bench/compare_ort.sh [--model M] [--threads 2] [--iters 30] [--rounds 5] [--precision fp32|bf16|int8]
#                                   [--calib DIR]   (int8; default: the shared traffic stills)
# Needs node and onnxruntime-node: the script installs the reference tools into build/ort-reference once
# (npm install --ignore-scripts; the CPU library ships inside the package).
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=${ITSCAM_SHARED_DIR:-../shared}
model=$SHARED/models/yolo11n.onnx threads=2 iters=30 rounds=5 precision=fp32 size=640 calib=$SHARED/data/images
while [ $# -gt 0 ]; do
    case $1 in
        --model) model=$2; shift 2;;
        --threads) threads=$2; shift 2;;
        --iters) iters=$2; shift 2;;
        --rounds) rounds=$2; shift 2;;
        --precision) precision=$2; shift 2;;
        --size) size=$2; shift 2;;
        --calib) calib=$2; shift 2;;
        -h|--help) sed -n '2,8p' "$0"; exit 0;;
        *) echo "unknown argument $1" >&2; exit 2;;
    esac
done
ort=build/ort-reference
if [ ! -d "$ort/node_modules/onnxruntime-node" ]; then
    mkdir -p "$ort" && cp "$SHARED"/tools/reference/{package.json,bench_ort.js} "$ort/"
    (cd "$ort" && npm install --ignore-scripts --no-audit --no-fund >/dev/null)
fi
extra=()
[ "$precision" = int8 ] && extra=(--calib "$calib")
ratios=()
for r in $(seq 1 "$rounds"); do
    ours=$(./build/tools/itscam/itscam bench model --model "$model" --threads "$threads" --iters "$iters" \
           --precision "$precision" "${extra[@]}" 2>/dev/null | awk 'NR==2 {print $5}')
    theirs=$(node "$ort/bench_ort.js" "$model" "$size" "$threads" "$iters" | sed -E 's/.*p50=([0-9.]+)ms.*/\1/')
    ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.3f", a / b }')
    ratios+=("$ratio")
    echo "round $r: itscam $precision p50 $ours ms, onnxruntime fp32 p50 $theirs ms, ratio $ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median ratio itscam($precision) / onnxruntime(fp32), $threads threads: $median"
