# Source this (bash) on the GPU machine to build and run the product with the set tools/gpu/pack_product.sh packed:
#   source tools/gpu/use_product.sh [PACK.tar.xz] [FOLDER]
# (defaults devdata/product-debian12.tar.xz and /tmp/product-debian12). Unpacks it once into FOLDER/product, moves
# aside each packed dependency (lib/deps) whose soname the machine already has (its own copy is the same or newer
# and stays the one its programs load; the packer already left out those of the sonames list it was given), then
# exports PKG_CONFIG_PATH (the relocatable .pc files), CMAKE_PREFIX_PATH (the prometheus-cpp config package),
# LD_LIBRARY_PATH (lib and lib/deps: for the linker's search of the libraries' own dependencies and for running;
# lib/link holds link-time copies only and stays off it), ITSCAM_PRODUCT_PREFIX, and puts the packed pkg-config
# at the END of PATH (used only when the machine has none).
_itscam_pp_pack=${1:-devdata/product-debian12.tar.xz}
_itscam_pp_dest=${2:-/tmp/product-debian12}
if [ ! -f "$_itscam_pp_dest/product/PACKED.txt" ]; then
  if [ ! -f "$_itscam_pp_pack" ]; then
    echo "use_product: no $_itscam_pp_pack (make it with tools/gpu/pack_product.sh and carry it)" >&2
    return 1
  fi
  rm -rf "$_itscam_pp_dest/product"
  mkdir -p "$_itscam_pp_dest" && tar -C "$_itscam_pp_dest" -xJf "$_itscam_pp_pack" || return 1
  mkdir -p "$_itscam_pp_dest/product/lib/system-has"
  _itscam_pp_sys=$(/sbin/ldconfig -p 2>/dev/null | awk '/\(libc6,x86-64\)/{print $1}')
  for _f in "$_itscam_pp_dest"/product/lib/deps/*; do
    [ -e "$_f" ] || continue
    if grep -qxF "$(basename "$_f")" <<<"$_itscam_pp_sys"; then mv "$_f" "$_itscam_pp_dest/product/lib/system-has/"; fi
  done
  echo "use_product: $(ls "$_itscam_pp_dest/product/lib/deps" | wc -l) packed dependencies in use," \
       "$(ls "$_itscam_pp_dest/product/lib/system-has" | wc -l) more left to the machine's own copies" >&2
fi
export ITSCAM_PRODUCT_PREFIX=$_itscam_pp_dest/product
export PKG_CONFIG_PATH=$ITSCAM_PRODUCT_PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export CMAKE_PREFIX_PATH=$ITSCAM_PRODUCT_PREFIX${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
export LD_LIBRARY_PATH=$ITSCAM_PRODUCT_PREFIX/lib:$ITSCAM_PRODUCT_PREFIX/lib/deps${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
case ":$PATH:" in *":$ITSCAM_PRODUCT_PREFIX/bin:"*) ;; *) export PATH=$PATH:$ITSCAM_PRODUCT_PREFIX/bin ;; esac
unset _itscam_pp_pack _itscam_pp_dest _itscam_pp_sys _f
