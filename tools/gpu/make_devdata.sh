#!/usr/bin/env bash
# Makes the git-ignored devdata/ that the GPU sessions carry to the GPU machine (tools/gpu/full_product_session.sh,
# gpu_suites.sh, nvdec_session.sh, pipeline_matrix.sh), from ../shared and this Debian machine's packages, so a
# fresh checkout can run them. Run from anywhere; needs a built itscam (ITSCAM, default build/tools/itscam/itscam:
# it writes the portable plan), the ffmpeg CLI with libx264/libx265 and libffmpeg-nvenc-dev.
#   tools/gpu/make_devdata.sh [SONAMES.txt]
# SONAMES (default devdata/h200/sonames.txt, if present) is handed to pack_product.sh: the GPU machine's sonames,
# which then stay out of the product archive; PACK=0 skips the archive. What is already there is kept; delete a
# file to make it again.
# Carry lists (64 MiB a call; the sizes are printed at the end):
#   product sessions (full_product_session.sh, gpu_suites.sh, nvdec_session.sh, pipeline_matrix.sh):
#     devdata/product-debian12.tar.xz devdata/portable devdata/clips/highway_720p.mp4 devdata/gpu devdata/golden
#     devdata/images devdata/shared (devdata/clips/highway_1080p30_4M.mp4, 10 MB, only for the 1080p benchmark)
#   engine sessions (tools/bench/h200_session.sh): devdata/portable devdata/models devdata/golden devdata/coco128
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=${SHARED:-../shared}
ITSCAM=${ITSCAM:-build/tools/itscam/itscam}
SONAMES=${1:-devdata/h200/sonames.txt}
D=devdata
mkdir -p $D/portable $D/clips $D/gpu/clips $D/gpu/ffnvcodec/pkgconfig $D/golden $D/images $D/shared/data/videos \
  $D/models
step() { echo "== make_devdata: $*"; }
ff() { ffmpeg -nostdin -loglevel error -y "$@"; }

if [ ! -f $D/gpu/ffnvcodec/pkgconfig/ffnvcodec.pc ]; then
  step "ffnvcodec headers (NVDEC) from libffmpeg-nvenc-dev"
  [ -d /usr/include/ffnvcodec ] || { echo "make_devdata: install libffmpeg-nvenc-dev" >&2; exit 1; }
  mkdir -p $D/gpu/ffnvcodec/include
  cp -r /usr/include/ffnvcodec $D/gpu/ffnvcodec/include/
  pc=$(find /usr/lib /usr/share -name ffnvcodec.pc | head -n 1)
  sed 's|^prefix=.*|prefix=${pcfiledir}/..|' "$pc" > $D/gpu/ffnvcodec/pkgconfig/ffnvcodec.pc
fi

if [ ! -f $D/portable/yolo11n.plan ]; then
  step "portable plan of yolo11n (itscam optimize --device portable)"
  tmp=$(mktemp -d)
  ln -s "$(realpath "$SHARED/models/yolo11n.onnx")" "$tmp/yolo11n.onnx"
  "$ITSCAM" optimize --input-dir "$tmp" --output-dir $D/portable --device portable
  rm -rf "$tmp"
fi

step "clips, images and goldens"
[ -f $D/clips/highway_720p.mp4 ] ||
  ff -i "$SHARED/data/videos/highway_overpass_trucks_720p.mp4" -t 10 -an -c:v copy $D/clips/highway_720p.mp4
[ -f $D/clips/highway_1080p30_4M.mp4 ] || bash tools/gpu/make_1080p_clip.sh $D/clips/highway_1080p30_4M.mp4 > /dev/null
cp -n "$SHARED/data/images/bus.jpg" $D/images/
cp -n "$SHARED/golden/bus_640.json" $D/images/
cp -n "$SHARED"/golden/{bus,zidane}_640.{input.png,json,output.npy} $D/golden/
# tools/bench/h200_session.sh: the ONNX model (its PyTorch peer) and coco128 (its val stage).
cp -n "$SHARED/models/yolo11n.onnx" $D/models/
[ -d $D/coco128 ] || cp -r "$SHARED/data/coco128" $D/coco128
# The shared clips the NVDEC tests decode besides their own (tests/video/video_test_util.h, kClips).
cp -n "$SHARED"/data/videos/*.mp4 $D/shared/data/videos/

# The clips tests/video/nvdec_test.cpp makes with the ffmpeg CLI, which the GPU machine lacks (ITSCAM_TEST_CLIPS):
# the same arguments as there.
C=$D/gpu/clips
[ -f $C/mpeg4.mp4 ] || ff -f lavfi -i testsrc=size=160x120:rate=25 -frames:v 10 -c:v mpeg4 $C/mpeg4.mp4
[ -f $C/h264_10bit.mkv ] ||
  ff -f lavfi -i testsrc=size=160x120:rate=25 -frames:v 5 -c:v libx264 -pix_fmt yuv420p10le $C/h264_10bit.mkv
[ -f $C/t1080.mp4 ] ||
  ff -f lavfi -i testsrc2=size=1920x1080:rate=30 -t 2 -c:v libx264 -pix_fmt yuv420p $C/t1080.mp4
[ -f $C/hevc.mp4 ] || ff -i $D/shared/data/videos/urban_road_cctv_360p.mp4 -an -frames:v 50 -c:v libx265 \
  -preset ultrafast -x265-params log-level=error $C/hevc.mp4
[ -f $C/a.ts ] ||
  ff -f lavfi -i testsrc=size=320x240:rate=25 -frames:v 20 -c:v libx264 -pix_fmt yuv420p -bf 0 $C/a.ts
[ -f $C/b.ts ] ||
  ff -f lavfi -i testsrc=size=640x360:rate=25 -frames:v 20 -c:v libx264 -pix_fmt yuv420p -bf 0 $C/b.ts

if [ "${PACK:-1}" = 1 ] && [ ! -f $D/product-debian12.tar.xz ]; then
  step "product archive (pack_product.sh; about 2 min)"
  bash tools/gpu/pack_product.sh $D/product-debian12.tar.xz "$SONAMES"
fi

du -sh $D/*
mib() { du -cb "$@" | awk 'END {printf "%.1f MiB", $1 / 1048576}'; }
echo "product carry: $(mib $D/product-debian12.tar.xz $D/portable $D/clips/highway_720p.mp4 $D/gpu $D/golden $D/images $D/shared)" \
     "(limit 64); engine carry: $(mib $D/portable $D/models $D/golden $D/coco128)"
