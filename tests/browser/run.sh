#!/usr/bin/env bash
# CTest entry of the dashboard's browser test: run.sh ITSCAM_BIN SHARED_DIR OUT_DIR [--keep]
# Exit 77 (CTest SKIP_RETURN_CODE) when the browser, node or the npm packages are missing:
#   apt-get install chromium nodejs npm && npm ci --prefix tests/browser
set -u
here=$(cd "$(dirname "$0")" && pwd)
chromium=${ITSCAM_CHROMIUM:-/usr/bin/chromium}
[ $# -ge 3 ] || { echo "usage: run.sh ITSCAM_BIN SHARED_DIR OUT_DIR [--keep]" >&2; exit 2; }
[ -x "$chromium" ] || { echo "SKIP: no $chromium (apt-get install chromium)"; exit 77; }
command -v node >/dev/null || { echo "SKIP: no node (apt-get install nodejs)"; exit 77; }
[ -f "$here/node_modules/playwright-core/package.json" ] \
    || { echo "SKIP: no playwright-core (npm ci --prefix tests/browser)"; exit 77; }
[ -f "$2/models/yolo11n.onnx" ] || { echo "SKIP: no $2/models/yolo11n.onnx"; exit 77; }
exec node "$here/dashboard_test.mjs" --itscam "$1" --shared "$2" --out "$3" --chromium "$chromium" "${@:4}"
