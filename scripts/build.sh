#!/usr/bin/env bash
# Configures and builds itscam into build/ (Release, Ninja). Extra arguments go to CMake.
set -euo pipefail
cd "$(dirname "$0")/.."
# FFmpeg ingest is ON by default; say so explicitly so that a build/ folder configured by an older checkout (when
# the default was OFF) does not keep a cached OFF. Later -D arguments ("$@") still win.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DITSCAM_WITH_FFMPEG=ON "$@"
cmake --build build -j "$(nproc)"
