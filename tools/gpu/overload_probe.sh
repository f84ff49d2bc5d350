#!/usr/bin/env bash
# One `itscam bench pipeline` run watched from outside, for a run that does not finish (on 2026-12-05, 320 CPU-decoded
# cameras on the H200 ran past a 420 s limit where 192 took seconds): the verbose log, a process/thread snapshot every
# SNAP_EVERY s, and, if it is still running at LIMIT s, every thread's stack (gdb or eu-stack, where the machine has
# one) before it is killed. Needs full_product_session.sh build. Run from the repository root. Variables:
#   CAMERAS (320)  DECODE (cpu)  CLIP (devdata/clips/highway_720p.mp4)  PLAN (devdata/portable/yolo11n.plan)
#   MAX_BATCH (32)  DURATION (10)  WARMUP (5)  LIMIT (150)  SNAP_EVERY (20)  EXTRA (more bench arguments)
# Results in $OUT: probe.log (the bench's output, then the snapshots and stacks).
set -uo pipefail
OUT=${OUT:-/tmp/itscam-out}
mkdir -p "$OUT"
L=$OUT/probe.log
B=${BUILD_DIR:-build-gpu-product}
I=$B/tools/itscam/itscam
source tools/gpu/use_product.sh "${PRODUCT_PACK:-devdata/product-debian12.tar.xz}" /tmp/product-debian12 > /dev/null 2>> "$L" || exit 1
[ -x "$I" ] || { echo "no itscam at $I" | tee -a "$L"; exit 1; }
LIMIT=${LIMIT:-150}
echo "== $(date +%T) ${CAMERAS:-320} cameras, --decode ${DECODE:-cpu}, limit $LIMIT s" >> "$L"
"$I" bench pipeline --device cuda:0 --precision fp16 --model "${PLAN:-devdata/portable/yolo11n.plan}" \
  --source "${CLIP:-devdata/clips/highway_720p.mp4}" --decode "${DECODE:-cpu}" --cameras "${CAMERAS:-320}" \
  --max-batch "${MAX_BATCH:-32}" --duration "${DURATION:-10}" --warmup "${WARMUP:-5}" -v ${EXTRA:-} >> "$L" 2>&1 &
pid=$!
t0=$(date +%s)
snap() {
  echo "== $(date +%T) +$(( $(date +%s) - t0 )) s: $(ps -o nlwp=,rss=,pcpu= -p $pid | awk '{print $1 " threads, " int($2/1024) " MiB, " $3 "% cpu"}')" >> "$L"
  # Threads by name and state (R running, S sleeping, D uninterruptible), most frequent first.
  ps -L -o comm=,stat= -p $pid | awk '{print $1, substr($2,1,1)}' | sort | uniq -c | sort -rn | head -12 >> "$L"
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader >> "$L" 2>&1
}
while kill -0 $pid 2>/dev/null; do
  el=$(( $(date +%s) - t0 ))
  if [ $el -ge "$LIMIT" ]; then
    snap
    echo "== still running at $el s: stacks" >> "$L"
    if command -v gdb > /dev/null; then
      timeout 40 gdb -batch -ex "thread apply all bt 10" -p $pid 2>&1 | grep -E "^Thread|^#" | head -600 >> "$L"
    elif command -v eu-stack > /dev/null; then
      timeout 40 eu-stack -p $pid 2>&1 | head -600 >> "$L"
    else
      for t in /proc/$pid/task/*; do echo "$(cat $t/comm) $(cat $t/wchan 2>/dev/null)"; done | sort | uniq -c | sort -rn >> "$L"
    fi
    kill -9 $pid
    break
  fi
  [ $(( el % ${SNAP_EVERY:-20} )) -eq 0 ] && [ $el -gt 0 ] && snap
  sleep 1
done
wait $pid
echo "== $(date +%T) exit $? after $(( $(date +%s) - t0 )) s" >> "$L"
