#!/usr/bin/env bash
# Installs the Debian 12 packages itscam needs to build and test. Run as root (or it uses sudo).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
packages=(
  g++ cmake ninja-build pkg-config ca-certificates
  libonnx-dev libprotobuf-dev            # ONNX import
  libdnnl-dev ocl-icd-opencl-dev         # CPU backend (oneDNN; its CMake config looks for OpenCL)
  libopencv-imgproc-dev libopencv-imgcodecs-dev  # image I/O, drawing
  nlohmann-json3-dev libcli11-dev        # JSON, command line
  libssl-dev                             # SHA-256 of plans' source models (libcrypto EVP)
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev  # video ingest (FFmpeg)
  libffmpeg-nvenc-dev                    # NVDEC decoding: the ffnvcodec headers (the driver is loaded at run time)
  libyaml-cpp-dev                        # YAML config
  libboost-dev                           # the HTTP server (Boost.Beast/Asio, header-only; HTTPS through libssl)
  libcpp-httplib-dev prometheus-cpp-dev libsqlite3-dev  # webhook client, Prometheus metrics, history
  libmosquitto-dev                       # analytics events to an MQTT broker
  mosquitto mosquitto-clients            # tests: a real MQTT broker on loopback, and its subscriber
  etcd-server etcd-client                # cluster mode (docs/cluster.md); tests: a real etcd on loopback
  openssl                                # tests: a self-signed certificate for the HTTPS test
  ffmpeg rtsp-server-perl                # tests: an RTSP publisher and a real RTSP server on loopback
  prometheus wrk                         # tests: promtool checks /metrics; wrk load-tests the HTTP API
  python3                                # tests: the hostile-client suite (tests/hostile)
  libgtest-dev libgmock-dev libbenchmark-dev     # tests and benchmarks
  git                                    # the build records the source commit (itscam --version)
  dpkg-dev file                          # cpack -G DEB: dpkg-shlibdeps computes the package's dependencies
  systemd                                # tests/packaging: systemd-analyze verify of the packaged unit
  chromium                               # tests: the dashboard in a headless browser (tests/browser)
)
# Node and npm for tests/browser (playwright-core; `npm ci --prefix tests/browser`). A node from elsewhere that
# already has npm (NodeSource's nodejs bundles it, and conflicts with Debian's npm package) is kept.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}"
