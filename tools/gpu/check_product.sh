#!/usr/bin/env bash
# Checks on the packing (Debian) machine that the tools/gpu/pack_product.sh bundle is enough for the target: builds
# the product without CUDA (FFmpeg + service + streaming + YAML) in a clean environment where pkg-config sees only
# the bundle and the system packages the target has too, and CMake ignores the system's prometheus-cpp; then shows
# that the found paths, the headers compiled and the libraries linked come from the bundle, and that every library
# the built program and the packed libraries need is either packed or in the target's sonames list.
#   tools/gpu/check_product.sh [PACK.tar.xz] [BUILD_DIR] [SONAMES.txt] [TARGET...]
# (defaults devdata/product-debian12.tar.xz, /tmp/itscam-check-product, devdata/h200/sonames.txt, itscam).
# Exit status 0 when every check passes.
set -uo pipefail
PACK=${1:-devdata/product-debian12.tar.xz}
B=${2:-/tmp/itscam-check-product}
SONAMES=${3:-devdata/h200/sonames.txt}
shift $(( $# < 3 ? $# : 3 ))
TARGETS=${*:-itscam}
ARCH=x86_64-linux-gnu
# pkg-config modules the target has from its own -dev packages (openssl and zlib: cpp-httplib.pc requires them).
TARGET_PC=(openssl libssl libcrypto zlib yaml-cpp)
SKIP='^(linux-vdso|libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil|ld-linux-x86-64|libstdc\+\+|libgcc_s'
SKIP+='|libcuda|libcudart|libnvcuvid|libnvidia-[a-z-]+)\.so'
# Linked from the target's own -dev packages (here from this machine's: another soname there, as yaml-cpp 0.8).
TARGET_OWN='^lib(yaml-cpp|ssl|crypto)\.so'
fail=0
bad() { echo "FAIL: $*"; fail=1; }

D=$(mktemp -d /tmp/check-product.XXXXXX)
tar -C "$D" -xJf "$PACK" || exit 1
P=$D/product
mkdir -p "$D/target-pc"
for p in "${TARGET_PC[@]}"; do ln -s "/usr/lib/$ARCH/pkgconfig/$p.pc" "$D/target-pc/"; done
echo "bundle unpacked in $P"

# Configure and build in a clean environment: what use_product.sh exports, the packed pkg-config.
rm -rf "$B"
env -i HOME="$HOME" PATH=/usr/local/bin:/usr/bin:/bin TERM=dumb PACK="$PACK" D="$D" B="$B" TARGETS="$TARGETS" bash -c '
  source tools/gpu/use_product.sh "$PACK" "$D" || exit 1
  export PKG_CONFIG_LIBDIR=$D/target-pc
  echo "env: PKG_CONFIG_PATH=$PKG_CONFIG_PATH CMAKE_PREFIX_PATH=$CMAKE_PREFIX_PATH LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPKG_CONFIG_EXECUTABLE="$ITSCAM_PRODUCT_PREFIX/bin/pkg-config" \
    -DCMAKE_IGNORE_PATH="/usr/lib/x86_64-linux-gnu/cmake/prometheus-cpp" \
    -DITSCAM_WITH_CUDA=OFF -DITSCAM_WITH_FFMPEG=ON -DITSCAM_WITH_SERVICE=ON -DITSCAM_WITH_YAML=ON \
    -DITSCAM_WITH_ONNX=OFF -DITSCAM_WITH_ONEDNN=OFF -DITSCAM_WITH_OPENCV=OFF -DITSCAM_BUILD_TESTS=OFF \
    -DITSCAM_BUILD_BENCH=OFF > "$B.configure.log" 2>&1 || { tail -30 "$B.configure.log"; exit 1; }
  grep -E "FFmpeg|NVDEC|OpenSSL" "$B.configure.log"
  ninja -C "$B" -j2 $TARGETS > "$B.build.log" 2>&1 || { grep -E "error|FAILED|undefined" -A3 "$B.build.log" | head -60; exit 1; }
' || { echo "FAIL: configure/build (logs $B.configure.log $B.build.log)"; exit 1; }
echo "built: $TARGETS"

echo "== CMake found (must be in the bundle)"
for v in FFMPEG_INCLUDE_DIRS FFMPEG_LIBRARY_DIRS HTTPLIB_INCLUDE_DIRS HTTPLIB_LIBRARY_DIRS SQLITE3_INCLUDE_DIRS \
         SQLITE3_LIBRARY_DIRS MOSQUITTO_INCLUDE_DIRS MOSQUITTO_LIBRARY_DIRS prometheus-cpp_DIR; do
  val=$(sed -n "s|^$v:[A-Z]*=||p" "$B/CMakeCache.txt")
  [ -n "$val" ] || val=$(sed -n "s|^$v:INTERNAL=||p" "$B/CMakeCache.txt")
  echo "$v = $val"
  [ -n "$val" ] || { bad "$v unset"; continue; }
  for x in ${val//;/ }; do [[ $x == "$P"* || $x == -* ]] || bad "$v: $x is outside the bundle"; done
done

echo "== headers compiled (ninja -t deps)"
ninja -C "$B" -t deps > "$D/deps.txt"
for h in httplib.h sqlite3.h mosquitto.h 'prometheus/[a-z_]*\.h' libavcodec/avcodec.h libavformat/avformat.h \
         libswscale/swscale.h libavutil/avutil.h brotli/decode.h; do
  used=$(grep -E "/$h\$" "$D/deps.txt" | tr -d ' ' | sort -u)
  [ -n "$used" ] || { echo "$h: not included by $TARGETS"; continue; }
  echo "$h: $used"
  grep -qv "^$P" <<<"$used" && bad "$h compiled from outside the bundle"
done

echo "== libraries linked"
for t in $TARGETS; do
  exe=$(find "$B" -name "$t" -type f -perm -u+x | head -1)
  [ -n "$exe" ] || { bad "no binary $t"; continue; }
  ninja -C "$B" -t commands "$t" | tail -1 | tr ' ' '\n' | grep -E "lib(av|sw|cpp-httplib|sqlite3|mosquitto|prometheus)" \
    | sort -u > "$D/link.txt"
  sed 's/^/  link: /' "$D/link.txt"
  grep -v "^$P" "$D/link.txt" && bad "linked from outside the bundle"
  echo "== $exe: ldd with env -i and use_product.sh's LD_LIBRARY_PATH"
  env -i LD_LIBRARY_PATH="$P/lib:$P/lib/deps" ldd "$exe" > "$D/ldd.txt"
  grep -c "=> $P" "$D/ldd.txt" | sed 's/$/ libraries from the bundle/'
  grep -q "not found" "$D/ldd.txt" && bad "$(grep "not found" "$D/ldd.txt")"
  grep -E "=> $P/lib/link" "$D/ldd.txt" && bad "a link-time copy (lib/link) is loaded at run time"
  # Every DT_NEEDED of the program and of the packed libraries: packed, or the target has it, or skipped.
  for f in "$exe" "$P"/lib/*.so.* "$P"/lib/deps/*; do readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; done \
    | sort -u > "$D/needed.txt"
  missing=0
  while read -r n; do
    [ -e "$P/lib/$n" ] || [ -e "$P/lib/deps/$n" ] || [[ $n =~ $SKIP ]] || grep -qxF "$n" "$SONAMES" \
      || { [[ $n =~ $TARGET_OWN ]] && echo "  $n: from a -dev package the target has its own of"; } \
      || { bad "$n: needed, neither packed nor on the target"; missing=1; }
  done < "$D/needed.txt"
  [ "$missing" = 0 ] && echo "$(wc -l < "$D/needed.txt") sonames needed by $t and the packed libraries: all packed" \
       "or on the target ($(grep -cxFf "$D/needed.txt" "$SONAMES") from the target's list)"
  env -i LD_LIBRARY_PATH="$P/lib:$P/lib/deps" "$exe" --version 2>&1 | head -2 | sed 's/^/  --version: /'
  env -i LD_LIBRARY_PATH="$P/lib:$P/lib/deps" "$exe" run --help > /dev/null 2>&1 || bad "$t run --help failed"
done
[ "$fail" = 0 ] && echo "check_product: all checks passed (bundle in $D, build in $B)" || echo "check_product: FAILED"
exit $fail
