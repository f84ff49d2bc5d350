#!/usr/bin/env bash
# The Debian package end to end: builds it (cpack -G DEB in a Release build folder), checks its metadata, installs
# it with apt (dependencies resolved from the archive), checks the itscam user, folders, config permissions, unit
# (systemd-analyze verify, when present) and `itscam --version`, then starts the installed /usr/bin/itscam as the
# itscam user with the installed /etc/itscam/itscam.yaml, the way the unit does but without systemd:
#   1. without the model: it must exit with status 2 and name the missing file (the unit does not restart it);
#   2. with the model where docs/deploy.md says to put it: /health must answer 200, /health/ready 200, a camera
#      added through the API must get detections, and SIGTERM must end it with status 0.
# Last, `apt-get purge` must remove the package and its state (/var/lib/itscam).
#
# Usage (as root, or with sudo; CI runs it from .ci/run after the Release build):
#   sudo tests/packaging/deb_smoke.sh [--build-dir build] [--shared-dir ../shared] [--keep]
# --keep leaves the package installed (with the model and clip below /var/lib/itscam). On a machine where itscam is
# already installed it stops: it would replace that installation and purge its state.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build"
shared="$root/../shared"
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$(cd "$2" && pwd); shift 2 ;;
    --shared-dir) shared=$(cd "$2" && pwd); shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--build-dir DIR] [--shared-dir DIR] [--keep]" >&2; exit 2 ;;
  esac
done

t0=$(date +%s)
say() { echo "== deb: $*"; }
fail() { echo "== deb: FAILED: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "run as root (sudo $0): it installs and purges the package"
model_src="$shared/models/yolo11n.onnx"
clip_src="$shared/data/videos/urban_road_cctv_360p.mp4"
for f in "$build/CMakeCache.txt" "$build/tools/itscam/itscam" "$model_src" "$clip_src"; do
  [ -f "$f" ] || fail "$f is missing (a Release build in $build and the shared models and clips are needed)"
done
if dpkg-query -W -f='${Status}' itscam 2>/dev/null | grep -q installed; then
  fail "itscam is already installed: this test would replace it and purge /var/lib/itscam (apt-get purge itscam first)"
fi

# --- Build and inspect the package ----------------------------------------------------------------------------------
# cpack as the owner of the build folder, so that a developer's tree gets no root-owned files.
owner=$(stat -c %u "$build")
as_owner=()
[ "$owner" -eq 0 ] || as_owner=(setpriv --reuid="$owner" --regid="$(stat -c %g "$build")" --clear-groups --)
cpack_log=$(cd "$build" && "${as_owner[@]}" cpack -G DEB 2>&1) || { echo "$cpack_log"; fail "cpack -G DEB"; }
deb=$(sed -n 's/^CPack: - package: \(.*\.deb\) generated\.$/\1/p' <<<"$cpack_log")
[ -f "$deb" ] || { echo "$cpack_log"; fail "cpack wrote no .deb"; }
say "built $deb ($(du -k "$deb" | cut -f1) KiB) in $(( $(date +%s) - t0 )) s"

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "package version $(dpkg-deb -f "$deb" Version), project $version"
depends=$(dpkg-deb -f "$deb" Depends)
say "Depends: $depends"
grep -q 'libdnnl' <<<"$depends" || fail "Depends lacks the shared libraries (dpkg-shlibdeps did not run?)"
grep -q 'adduser' <<<"$depends" || fail "Depends lacks adduser (the postinst needs it)"
if grep -Eo '[a-z0-9.+-]+-dev\b' <<<"$depends"; then fail "Depends names -dev packages"; fi
contents=$(dpkg-deb -c "$deb")
for p in ./usr/bin/itscam ./etc/itscam/itscam.yaml ./lib/systemd/system/itscam.service ./usr/share/doc/itscam/deploy.md; do
  grep -q " $p\$" <<<"$contents" || fail "$p is not in the package"
done
ctl=$(mktemp -d)
trap 'rm -rf "$ctl"' EXIT
dpkg-deb -e "$deb" "$ctl"
[ "$(cat "$ctl/conffiles")" = /etc/itscam/itscam.yaml ] || fail "conffiles: $(cat "$ctl/conffiles")"
if command -v lintian >/dev/null 2>&1; then
  say "lintian (informational):"
  lintian --no-tag-display-limit "$deb" || true
fi

# --- Install --------------------------------------------------------------------------------------------------------
ti=$(date +%s)
apt_log=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" 2>&1) ||
  { echo "$apt_log"; fail "apt-get install $deb"; }
say "installed in $(( $(date +%s) - ti )) s; the postinst said:"
grep '^itscam:' <<<"$apt_log" || true
getent passwd itscam >/dev/null || fail "no itscam user"
[ "$(stat -c %U:%G "/var/lib/itscam")" = itscam:itscam ] || fail "/var/lib/itscam is $(stat -c %U:%G /var/lib/itscam)"
[ "$(stat -c %a:%U:%G /etc/itscam/itscam.yaml)" = 640:root:itscam ] ||
  fail "/etc/itscam/itscam.yaml is $(stat -c %a:%U:%G /etc/itscam/itscam.yaml), not 640 root:itscam"

# The commit the build recorded: the checkout's (cmake/build_commit.cmake), "unknown" outside a git checkout.
commit=unknown
if command -v git >/dev/null 2>&1 && [ -e "$root/.git" ]; then
  commit=$(git -C "$root" -c safe.directory="$root" describe --always --dirty)
fi
got=$(/usr/bin/itscam --version)
[ "$got" = "itscam $version (commit $commit)" ] ||
  fail "itscam --version says '$got', expected 'itscam $version (commit $commit)' (rebuild after a commit or edit)"
say "$got"

if command -v systemd-analyze >/dev/null 2>&1; then
  # It exits 0 on a setting it ignores (an unknown key, a bad value): any output fails the test.
  verify_rc=0
  verify_log=$(systemd-analyze verify /lib/systemd/system/itscam.service 2>&1) || verify_rc=$?
  if [ "$verify_rc" -ne 0 ] || [ -n "$verify_log" ]; then
    echo "$verify_log"
    fail "systemd-analyze verify itscam.service (status $verify_rc)"
  fi
  say "systemd-analyze verify: no complaints"
  # The hardening, scored by systemd itself (0 = fully sandboxed, 10 = none; 3.5 at this writing, "OK"): a change
  # that loosens the unit past 4.0 fails here. --threshold is in tenths.
  sec_rc=0
  sec_log=$(systemd-analyze security --offline=true --threshold=40 /lib/systemd/system/itscam.service 2>&1) || sec_rc=$?
  exposure=$(grep -o 'Overall exposure level for itscam.service: [0-9.]* [A-Z]*' <<<"$sec_log" | sed 's/.*: //')
  if [ "$sec_rc" -ne 0 ]; then
    grep -E '^✗' <<<"$sec_log" | head -20
    fail "systemd-analyze security: exposure ${exposure:-unknown} is above 4.0 (status $sec_rc)"
  fi
  say "systemd-analyze security: exposure $exposure"
else
  say "systemd-analyze not installed: unit not verified"
fi

# --- Run it as the itscam user, as the unit does (without systemd) --------------------------------------------------
log=$(mktemp)
trap 'rm -rf "$ctl" "$log"; [ -z "${pid:-}" ] || kill -KILL "$pid" 2>/dev/null || true' EXIT
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
# What the unit runs, as its user, in its working directory; any free port, an API token and file cameras allowed
# (for the camera added below) through the environment.
itscam_run=(setpriv --reuid=itscam --regid=itscam --init-groups --reset-env --
            env ITSCAM_HTTP_PORT=0 ITSCAM_API_TOKEN="$token" ITSCAM_ALLOW_FILE_CAMERAS=true
            /usr/bin/itscam run --config /etc/itscam/itscam.yaml --status-interval 0)

# The itscam user must be able to run programs at all: a root directory that only root may enter (a chroot made
# with `mktemp -d`, mode 700) would turn every check below into "cannot load libc.so.6".
setpriv --reuid=itscam --regid=itscam --init-groups --reset-env -- /usr/bin/true 2>"$log" ||
  fail "the itscam user cannot run /usr/bin/true here ($(head -c 300 "$log")); / is mode $(stat -c %a /):" \
       "non-root users need to enter /"

# 1. Out of the box: no model yet.
model=/var/lib/itscam/models/yolo11n.onnx
[ ! -e "$model" ] || fail "$model exists before the test put it there"
rc=0
(cd /var/lib/itscam && exec timeout 60 "${itscam_run[@]}") >"$log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { cat "$log"; fail "without the model: exit status $rc, expected 2"; }
grep -q "$model" "$log" || { cat "$log"; fail "without the model: the log does not name $model"; }
say "without the model: exit 2, the log says: $(grep -m1 "$model" "$log")"

# 2. With the model where deploy.md puts it, and a clip readable by itscam.
install -m 0644 "$model_src" "$model"
install -d -o itscam -g itscam /var/lib/itscam/clips
install -m 0644 "$clip_src" /var/lib/itscam/clips/
(cd /var/lib/itscam && exec "${itscam_run[@]}") >"$log" 2>&1 &
pid=$!  # itscam's own: the subshell, setpriv and env each exec the next
http() {  # http METHOD PATH [JSON]: prints "STATUS BODY"; STATUS 000 when nothing answers
  python3 - "$port" "$@" <<'EOF'
import json, sys, urllib.error, urllib.request
port, method, path = sys.argv[1:4]
data = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
if data is not None:
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", "Bearer " + sys.argv[5])
try:
    with urllib.request.urlopen(req, timeout=5) as r:
        print(r.status, r.read().decode(errors="replace"))
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode(errors="replace"))
except OSError:
    print("000")
EOF
}
# wait_for SECONDS WHAT COMMAND...: runs COMMAND every 0.5 s until it succeeds; fails naming WHAT after SECONDS.
wait_for() {
  local limit=$1 what=$2 start=$SECONDS
  shift 2
  until "$@"; do
    kill -0 "$pid" 2>/dev/null || { cat "$log"; fail "itscam exited while waiting for $what"; }
    [ $((SECONDS - start)) -lt "$limit" ] || { cat "$log"; fail "no $what within $limit s"; }
    sleep 0.5
  done
}
bound_port() { port=$(sed -n 's|^itscam: HTTP API on http://[^ ]*:\([0-9]*\) .*|\1|p' "$log"); [ -n "$port" ]; }
wait_for 30 "'HTTP API on' line in the log" bound_port
answers() { [ "$(http GET "$1" | cut -d' ' -f1)" = "$2" ]; }
wait_for 30 "200 from /health" answers /health 200
say "/health: $(http GET /health)"
wait_for 120 "200 from /health/ready (engines built)" answers /health/ready 200
added=$(http POST /api/v1/cameras '{"id": "smoke", "url": "/var/lib/itscam/clips/urban_road_cctv_360p.mp4", "loop": true}' "$token")
[ "${added%% *}" = 201 ] || [ "${added%% *}" = 200 ] || { cat "$log"; fail "POST /api/v1/cameras: $added"; }
has_detections() { http GET /api/v1/cameras/smoke/detections/latest | grep -q '"class_id"'; }
wait_for 60 "detections from the camera added through the API" has_detections
say "detections: $(http GET /api/v1/cameras/smoke/detections/latest | cut -c1-160)..."
kill -TERM "$pid"
rc=0
timeout 30 tail --pid="$pid" -f /dev/null || fail "itscam did not exit within 30 s of SIGTERM"
wait "$pid" || rc=$?
pid=
[ "$rc" -eq 0 ] || { cat "$log"; fail "after SIGTERM: exit status $rc, expected 0"; }
[ "$(stat -c %U /var/lib/itscam/itscam.db)" = itscam ] || fail "the history database is not itscam's"
say "SIGTERM: exit 0; the history is in /var/lib/itscam/itscam.db"

# --- Purge ----------------------------------------------------------------------------------------------------------
if [ "$keep" -eq 1 ]; then
  say "kept installed (--keep); passed in $(( $(date +%s) - t0 )) s"
  exit 0
fi
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq itscam >/dev/null || fail "apt-get purge itscam"
[ ! -e /var/lib/itscam ] || fail "/var/lib/itscam is still there after purge"
[ ! -e /etc/itscam/itscam.yaml ] || fail "/etc/itscam/itscam.yaml is still there after purge"
say "purged; passed in $(( $(date +%s) - t0 )) s"
