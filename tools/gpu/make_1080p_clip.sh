#!/usr/bin/env bash
# The 1080p30 clip of issue 17's benchmark, made from the shared 720p clip: scaled to 1920x1080, 30 fps, H.264 High
# at a CCTV-like 4 Mbit/s (capped, 1 s buffer), no B-frames, a key frame every 2 s, 20 s. Needs the ffmpeg CLI
# with libx264 (Debian's ffmpeg). Usage: make_1080p_clip.sh [OUT] (default devdata/clips/highway_1080p30_4M.mp4).
set -euo pipefail
cd "$(dirname "$0")/../.."
src=${SRC:-../shared/data/videos/highway_overpass_trucks_720p.mp4}
out=${1:-devdata/clips/highway_1080p30_4M.mp4}
mkdir -p "$(dirname "$out")"
ffmpeg -v error -y -i "$src" -t 20 -an -vf "scale=1920:1080:flags=bicubic,fps=30" -c:v libx264 -preset fast \
  -profile:v high -bf 0 -g 60 -b:v 4M -maxrate 4M -bufsize 4M -pix_fmt yuv420p -movflags +faststart "$out"
ffprobe -v error -show_entries stream=width,height,r_frame_rate,bit_rate,nb_frames -of compact "$out"
