#!/usr/bin/env bash
# Packs this machine's (Debian 12) FFmpeg development set for a machine without it (the GPU machine: Ubuntu 24.04,
# no package manager): libavcodec, libavformat, libavutil, libswscale and libswresample with their headers,
# relocatable pkg-config files, every shared library they load (the `ldd` closure) and a pkg-config binary.
# Left out: what the target has of its own (glibc, libstdc++, libgcc_s, the CUDA and driver libraries).
# tools/gpu/use_ffmpeg.sh unpacks it there. Usage: tools/gpu/pack_ffmpeg.sh [OUTPUT.tar.xz]
# (default devdata/ffmpeg-debian12.tar.xz; devdata/ is git-ignored). Needs the libav*-dev packages and pkgconf.
set -euo pipefail
OUTPUT=${1:-devdata/ffmpeg-debian12.tar.xz}
MODULES=(libavcodec libavformat libavutil libswscale libswresample)
ARCH=x86_64-linux-gnu
LIBDIR=/usr/lib/$ARCH
INCDIR=/usr/include/$ARCH
# Sonames the target provides itself: the C library family, the C++ runtime, CUDA and the NVIDIA driver.
SKIP='^(libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil|ld-linux-x86-64|libstdc\+\+|libgcc_s'
SKIP+='|libcuda|libcudart|libnvcuvid|libnvidia-[a-z-]+)\.so'

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/ffmpeg
mkdir -p "$root/lib/pkgconfig" "$root/lib/deps" "$root/include" "$root/bin"

# The FFmpeg libraries themselves (with the unversioned link-time name) in lib/, with headers and .pc files.
for m in "${MODULES[@]}"; do
  pc=$LIBDIR/pkgconfig/$m.pc
  [ -f "$pc" ] || { echo "pack_ffmpeg: $pc missing: install $m-dev" >&2; exit 1; }
  so=$(readelf -d "$LIBDIR/$m.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')  # libavcodec.so.59
  cp -L "$LIBDIR/$m.so" "$root/lib/$so"
  ln -s "$so" "$root/lib/$m.so"
  cp -r "$INCDIR/$m" "$root/include/"
  # Relocatable: every path relative to the .pc file's own folder (pkgconf and pkg-config set ${pcfiledir}).
  sed -e 's|^prefix=.*|prefix=${pcfiledir}/../..|' -e 's|^libdir=.*|libdir=${prefix}/lib|' \
      -e 's|^includedir=.*|includedir=${prefix}/include|' "$pc" > "$root/lib/pkgconfig/$m.pc"
done

# Their runtime closure (ldd resolves it transitively), except what the target provides, in lib/deps/.
for m in "${MODULES[@]}"; do ldd "$root/lib/$m.so"; done | awk '/=> \//{print $1, $3}' | sort -u |
while read -r name path; do
  [[ $name =~ $SKIP ]] && continue
  [ -e "$root/lib/$name" ] && continue
  cp -L "$path" "$root/lib/deps/$name"
done

# pkg-config for CMake's FindPkgConfig (the target may have none): Debian's pkgconf and its library.
cp -L /usr/bin/pkgconf "$root/bin/pkg-config"
cp -L "$(ldd /usr/bin/pkgconf | awk '/libpkgconf/{print $3}')" "$root/lib/deps/"

{ echo "Debian 12 FFmpeg: libavcodec $(pkg-config --modversion libavcodec), packed $(date -u +%F) by pack_ffmpeg.sh"
  echo "modules: ${MODULES[*]}"; echo "deps: $(ls "$root/lib/deps" | wc -l) libraries"; } > "$root/PACKED.txt"
mkdir -p "$(dirname "$OUTPUT")"
tar -C "$stage" -cf - ffmpeg | xz -T2 -9 > "$OUTPUT"
echo "pack_ffmpeg: $OUTPUT: $(du -sb "$root" | cut -f1) bytes unpacked, $(stat -c %s "$OUTPUT") bytes packed"
