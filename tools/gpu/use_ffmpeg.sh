# Source this (bash) on the GPU machine to use the FFmpeg set that tools/gpu/pack_ffmpeg.sh packed:
#   source tools/gpu/use_ffmpeg.sh [PACK.tar.xz] [FOLDER]
# (defaults devdata/ffmpeg-debian12.tar.xz and /tmp/ffmpeg-debian12). Unpacks it once into FOLDER/ffmpeg, drops
# the packed libraries whose soname the machine already has (its own copy is the same or newer and stays the one
# that its programs load), then exports PKG_CONFIG_PATH (the relocatable .pc files), LD_LIBRARY_PATH (for the
# linker's search of the libraries' own dependencies and for running), FFMPEG_PREFIX, and puts the packed
# pkg-config at the end of PATH (used only when the machine has none).
_itscam_ff_pack=${1:-devdata/ffmpeg-debian12.tar.xz}
_itscam_ff_dest=${2:-/tmp/ffmpeg-debian12}
if [ ! -f "$_itscam_ff_dest/ffmpeg/PACKED.txt" ]; then
  if [ ! -f "$_itscam_ff_pack" ]; then
    echo "use_ffmpeg: no $_itscam_ff_pack (make it with tools/gpu/pack_ffmpeg.sh and carry it)" >&2
    return 1
  fi
  mkdir -p "$_itscam_ff_dest" && tar -C "$_itscam_ff_dest" -xJf "$_itscam_ff_pack" || return 1
  mkdir -p "$_itscam_ff_dest/ffmpeg/lib/system-has"
  _itscam_ff_sys=$(/sbin/ldconfig -p 2>/dev/null | awk '/\(libc6,x86-64\)/{print $1}')
  for _f in "$_itscam_ff_dest"/ffmpeg/lib/deps/*; do
    if grep -qxF "$(basename "$_f")" <<<"$_itscam_ff_sys"; then mv "$_f" "$_itscam_ff_dest/ffmpeg/lib/system-has/"; fi
  done
  echo "use_ffmpeg: $(ls "$_itscam_ff_dest/ffmpeg/lib/deps" | wc -l) packed libraries in use," \
       "$(ls "$_itscam_ff_dest/ffmpeg/lib/system-has" | wc -l) left to the machine's own copies" >&2
fi
export FFMPEG_PREFIX=$_itscam_ff_dest/ffmpeg
export PKG_CONFIG_PATH=$FFMPEG_PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export LD_LIBRARY_PATH=$FFMPEG_PREFIX/lib:$FFMPEG_PREFIX/lib/deps${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
case ":$PATH:" in *":$FFMPEG_PREFIX/bin:"*) ;; *) export PATH=$PATH:$FFMPEG_PREFIX/bin ;; esac
unset _itscam_ff_pack _itscam_ff_dest _itscam_ff_sys _f
