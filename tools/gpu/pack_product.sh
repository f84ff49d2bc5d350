#!/usr/bin/env bash
# Packs what a machine without packages (the GPU machine: Ubuntu 24.04, no package manager, no network) lacks to
# configure, build and run the whole product (FFmpeg + service + streaming) from this machine's (Debian 12) -dev
# packages, as one relocatable archive; tools/gpu/use_product.sh unpacks it there.
#   tools/gpu/pack_product.sh [OUTPUT.tar.xz] [SONAMES.txt]
# OUTPUT defaults to devdata/product-debian12.tar.xz (devdata/ is git-ignored). SONAMES lists the sonames the
# target already has, one a line (`ldconfig -p | awk '/x86-64/{print $1}'` there); default
# devdata/h200/sonames.txt when present, else none (everything is packed, and use_product.sh still leaves the
# machine's own copies in charge at unpack time). Use "-" for none.
#
# In the archive (one folder, product/):
#   lib/             the libraries the build links directly (libav*, libsw*, cpp-httplib, mosquitto,
#                    prometheus-cpp-core, sqlite3) with their link-time names; loaded at run time from here
#   lib/link/        link-time copies (lib<name>.so only) of directly linked libraries whose soname the target
#                    has: the linker uses them, the program loads the target's own
#   lib/deps/        their runtime closure, walked over DT_NEEDED without descending into libraries the target
#                    has (its copy brings its own dependencies), less what every target has (glibc, libstdc++,
#                    libgcc_s, CUDA, the driver)
#   lib/pkgconfig/   .pc files rewritten to prefix=${pcfiledir}/../.. (libdir lib/ or lib/link/)
#   lib/cmake/prometheus-cpp/  a relocatable config package defining prometheus-cpp::core (itscam uses only the
#                    core; Debian's config also demands civetweb and CURL for pull/push)
#   include/         the headers; bin/pkg-config  Debian's pkgconf (for a target without pkg-config)
# Headers-only support packages named in cpp-httplib.pc's Requires.private (openssl, zlib, brotli: httplib.h
# includes them) are packed only when the target lacks their link-time name (libssl.so, libz.so,
# libbrotlicommon.so), which is what their -dev package installs.
set -euo pipefail
OUTPUT=${1:-devdata/product-debian12.tar.xz}
SONAMES=${2:-devdata/h200/sonames.txt}
if [ "$SONAMES" = - ] || [ ! -f "$SONAMES" ]; then SONAMES=/dev/null; fi
ARCH=x86_64-linux-gnu
LIBDIR=/usr/lib/$ARCH
PCDIR=$LIBDIR/pkgconfig
FFMPEG=(libavcodec libavformat libavutil libswscale libswresample)
# pkg-config module -> library name (lib<name>.so) and headers (relative to /usr/include or /usr/include/$ARCH).
declare -A LIBS=([libavcodec]=avcodec [libavformat]=avformat [libavutil]=avutil [libswscale]=swscale
                 [libswresample]=swresample [cpp-httplib]=cpp-httplib [sqlite3]=sqlite3 [libmosquitto]=mosquitto)
declare -A HEADERS=([libavcodec]=libavcodec [libavformat]=libavformat [libavutil]=libavutil [libswscale]=libswscale
                    [libswresample]=libswresample [cpp-httplib]=httplib.h [sqlite3]="sqlite3.h sqlite3ext.h"
                    [libmosquitto]="mosquitto.h mqtt_protocol.h")
MODULES=("${FFMPEG[@]}" cpp-httplib sqlite3 libmosquitto)
# Header-only support packages: link-time name that marks the target's -dev package -> .pc files and headers.
SUPPORT_LINK=(libssl.so libz.so libbrotlicommon.so)
SUPPORT_PC=("openssl libssl libcrypto" zlib "libbrotlicommon libbrotlidec libbrotlienc")
SUPPORT_HEADERS=(openssl "zlib.h zconf.h" brotli)
# Sonames every target provides itself: the C library family, the C++ runtime, CUDA and the NVIDIA driver.
SKIP='^(linux-vdso|libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil|ld-linux-x86-64|libstdc\+\+|libgcc_s'
SKIP+='|libcuda|libcudart|libnvcuvid|libnvidia-[a-z-]+)\.so'
target_has() { grep -qxF "$1" "$SONAMES"; }
soname() { readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
# Copies a header or header folder into include/: from /usr/include and /usr/include/$ARCH (merged: Debian keeps
# FFmpeg's headers and OpenSSL's configuration.h in the multiarch folder, which is no search path in the bundle).
copy_header() {
  local src dst=$root/include/$1 found=
  for src in "/usr/include/$1" "/usr/include/$ARCH/$1"; do
    [ -e "$src" ] || continue
    found=1
    if [ -d "$src" ]; then mkdir -p "$dst" && cp -r "$src/." "$dst/"; else mkdir -p "$(dirname "$dst")" && cp "$src" "$dst"; fi
  done
  [ -n "$found" ] || { echo "pack_product: no header $1" >&2; exit 1; }
}
relocate_pc() {  # $1 source .pc, $2 libdir below the prefix
  sed -e 's|^prefix=.*|prefix=${pcfiledir}/../..|' -e 's|^exec_prefix=.*|exec_prefix=${prefix}|' \
      -e "s|^libdir=.*|libdir=\${prefix}/$2|" -e 's|^includedir=.*|includedir=${prefix}/include|' "$1"
}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/product
mkdir -p "$root"/lib/{pkgconfig,deps,link,cmake/prometheus-cpp} "$root/include" "$root/bin"
direct=()     # the packed copies of the directly linked libraries, for the closure walk
declare -A REPORT=()

# Directly linked libraries: the real file under its soname, the link-time name beside it, headers, .pc file.
# A library whose soname the target has goes to lib/link under its link-time name only: the linker reads it (and
# records the soname), but no loader finds a file of that soname there, even through the build tree's RUNPATH,
# which CMake points at every folder of a library linked by path. The program loads the target's own copy.
pack_direct() {  # $1 library name (lib$1.so), $2 .pc file or ""; sets dir (lib or lib/link) and so
  so=$(soname "$LIBDIR/lib$1.so")
  if target_has "$so"; then
    dir=lib/link
    cp -L "$LIBDIR/lib$1.so" "$root/$dir/lib$1.so"
    direct+=("$root/$dir/lib$1.so")
  else
    dir=lib
    cp -L "$LIBDIR/lib$1.so" "$root/$dir/$so"
    ln -sf "$so" "$root/$dir/lib$1.so"
    direct+=("$root/$dir/$so")
  fi
  if [ -n "$2" ]; then relocate_pc "$2" "$dir" > "$root/lib/pkgconfig/$(basename "$2")"; fi
}
for m in "${MODULES[@]}"; do
  pc=$PCDIR/$m.pc
  [ -f "$pc" ] || { echo "pack_product: $pc missing: install the -dev package of $m" >&2; exit 1; }
  pack_direct "${LIBS[$m]}" "$pc"
  REPORT[$m]="$(pkg-config --modversion "$m"): $so in $dir"
  for h in ${HEADERS[$m]}; do copy_header "$h"; done
done

# prometheus-cpp: headers, the core library, and a config package of our own (relocatable, core only).
[ -d /usr/include/prometheus ] || { echo "pack_product: install prometheus-cpp-dev" >&2; exit 1; }
copy_header prometheus
pack_direct prometheus-cpp-core ""
pdir=$dir psoname=$so pver=$(pkg-config --modversion prometheus-cpp-core)
REPORT[prometheus-cpp]="$pver: $so in $dir (CMake config, core only)"
cat > "$root/lib/cmake/prometheus-cpp/prometheus-cpp-config.cmake" <<EOF
# prometheus-cpp $pver (Debian 12), core library only, relocatable: written by tools/gpu/pack_product.sh.
include(CMakeFindDependencyMacro)
find_dependency(Threads)
get_filename_component(_itscam_prom_prefix "\${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(prometheus-cpp_INCLUDE_DIR "\${_itscam_prom_prefix}/include")
if(NOT TARGET prometheus-cpp::core)
  add_library(prometheus-cpp::core SHARED IMPORTED)
  set_target_properties(prometheus-cpp::core PROPERTIES
    IMPORTED_LOCATION "\${_itscam_prom_prefix}/$pdir/libprometheus-cpp-core.so"
    IMPORTED_SONAME "$psoname"
    INTERFACE_INCLUDE_DIRECTORIES "\${_itscam_prom_prefix}/include"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()
unset(_itscam_prom_prefix)
EOF
cat > "$root/lib/cmake/prometheus-cpp/prometheus-cpp-config-version.cmake" <<EOF
set(PACKAGE_VERSION "$pver")
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
EOF

# Header-only support packages the target lacks (cpp-httplib.pc requires them; httplib.h includes them).
for i in "${!SUPPORT_LINK[@]}"; do
  if target_has "${SUPPORT_LINK[$i]}"; then REPORT[${SUPPORT_PC[$i]%% *}]="left to the target"; continue; fi
  for p in ${SUPPORT_PC[$i]}; do relocate_pc "$PCDIR/$p.pc" lib > "$root/lib/pkgconfig/$p.pc"; done
  for h in ${SUPPORT_HEADERS[$i]}; do copy_header "$h"; done
  REPORT[${SUPPORT_PC[$i]%% *}]="headers and .pc only"
done

# pkg-config for CMake's FindPkgConfig (the target may have none): Debian's pkgconf, walked with the rest.
cp -L /usr/bin/pkgconf "$root/bin/pkg-config"

# The runtime closure: resolve names the way the loader does here (ldd), walk DT_NEEDED breadth first, skip what
# every target has, and stop at libraries the target has (not packed, not descended into).
declare -A PATHOF=() SEEN=()
while read -r name path; do PATHOF[$name]=$path; done < <(
  for f in "${direct[@]}" "$root/bin/pkg-config"; do LD_LIBRARY_PATH=$root/lib:$root/lib/link ldd "$f"; done |
  awk '/=> \//{print $1, $3}' | sort -u)
queue=("${direct[@]}" "$root/bin/pkg-config")
for f in "${direct[@]}"; do SEEN[$(basename "$f")]=1; done
kept_by_target=()
while [ ${#queue[@]} -gt 0 ]; do
  f=${queue[0]}; queue=("${queue[@]:1}")
  for n in $(needed "$f"); do
    [ -n "${SEEN[$n]:-}" ] && continue
    SEEN[$n]=1
    [[ $n =~ $SKIP ]] && continue
    if target_has "$n"; then kept_by_target+=("$n"); continue; fi
    [ -n "${PATHOF[$n]:-}" ] || { echo "pack_product: $n (needed by $(basename "$f")) not resolved" >&2; exit 1; }
    cp -L "${PATHOF[$n]}" "$root/lib/deps/$n"
    queue+=("$root/lib/deps/$n")
  done
done
rmdir --ignore-fail-on-non-empty "$root/lib/link"

{ echo "Debian 12 product dependencies, packed $(date -u +%F) by tools/gpu/pack_product.sh"
  for k in "${!REPORT[@]}"; do echo "$k: ${REPORT[$k]}"; done | sort
  echo "deps: $(ls "$root/lib/deps" | wc -l) libraries packed in lib/deps"
  echo "left to the target (its sonames list $SONAMES): ${#kept_by_target[@]}: ${kept_by_target[*]}"
} > "$root/PACKED.txt"
cat "$root/PACKED.txt"
mkdir -p "$(dirname "$OUTPUT")"
tar -C "$stage" --sort=name --owner=0 --group=0 -cf - product | xz -T2 -9e > "$OUTPUT.tmp"
mv "$OUTPUT.tmp" "$OUTPUT"
size=$(stat -c %s "$OUTPUT")
echo "pack_product: $OUTPUT: $(du -sb "$root" | cut -f1) bytes unpacked, $size bytes packed" \
     "($(awk -v s="$size" 'BEGIN{printf "%.1f", s/1048576}') MiB)"
