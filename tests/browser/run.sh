#!/usr/bin/env bash
# CTest entry of the dashboard's browser tests: run.sh ITSCAM_BIN SHARED_DIR OUT_DIR [--cluster] [--keep]
# (--cluster: cluster_dashboard_test.mjs, two nodes and etcd; it exits 77 itself without /usr/bin/etcd)
# Exit 77 (CTest SKIP_RETURN_CODE) when the browser, node or the npm packages are missing:
#   apt-get install chromium nodejs npm && npm ci --prefix tests/browser
set -u
here=$(cd "$(dirname "$0")" && pwd)
chromium=${ITSCAM_CHROMIUM:-/usr/bin/chromium}
[ $# -ge 3 ] || { echo "usage: run.sh ITSCAM_BIN SHARED_DIR OUT_DIR [--cluster] [--keep]" >&2; exit 2; }
script=dashboard_test.mjs
extra=("${@:4}")
if [ "${4:-}" = "--cluster" ]; then
    script=cluster_dashboard_test.mjs
    extra=("${@:5}")
fi
[ -x "$chromium" ] || { echo "SKIP: no $chromium (apt-get install chromium)"; exit 77; }
command -v node >/dev/null || { echo "SKIP: no node (apt-get install nodejs)"; exit 77; }
[ -f "$here/node_modules/playwright-core/package.json" ] \
    || { echo "SKIP: no playwright-core (npm ci --prefix tests/browser)"; exit 77; }
[ -f "$2/models/yolo11n.onnx" ] || { echo "SKIP: no $2/models/yolo11n.onnx"; exit 77; }
exec node "$here/$script" --itscam "$1" --shared "$2" --out "$3" --chromium "$chromium" "${extra[@]}"
