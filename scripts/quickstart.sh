#!/usr/bin/env bash
# One command for a fresh Debian 12 machine: install dependencies, build, and detect objects in the bundled
# sample image with the real YOLO11n model, writing an annotated image and JSON to runs/detect/, then run the
# multi-camera pipeline on the sample traffic clips for 20 s (detections in runs/detections.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${ITSCAM_SHARED_DIR:-../shared}
bash scripts/install-deps.sh
bash scripts/build.sh
mkdir -p runs/detect
./build/tools/itscam/itscam detect --model "$SHARED/models/yolo11n.onnx" --save-dir runs/detect \
  --json runs/detect/bus.json "$SHARED/data/images/bus.jpg"
echo "annotated image: runs/detect/bus.jpg, detections: runs/detect/bus.json"
# The multi-camera pipeline on the three sample clips (looped, paced like live cameras) for 20 seconds.
if [ "$SHARED" = ../shared ]; then
  ./build/tools/itscam/itscam run --config configs/example.yaml --duration 20 --status-interval 5
  echo "pipeline detections: runs/detections.jsonl"
else
  echo "(skipping the pipeline demo: configs/example.yaml expects the shared data in ../shared)"
fi
