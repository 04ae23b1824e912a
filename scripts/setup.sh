#!/usr/bin/env bash
# Installs what OrleansLm needs on Debian 12 with the .NET 10 SDK. Idempotent: apt runs only when a
# package is missing.
#   libtorch-dev + libopenblas0-pthread  tensors (without OpenBLAS libtorch uses reference BLAS, ~30x slower)
#   cmake, g++                           the native shim (model/native), built by `dotnet build`
#   python3-torch                        the PyTorch peer for parity tests and benchmarks (/usr/bin/python3)
#   fortunes-min                         the corpus of the built-in run (`olm train` without --config)
#   postgresql                           the membership table's server: tests start their own (initdb into a temp dir)
#   iproute2                             `ip netns` for the partition tests (they run as root only, and skip otherwise)
#   python3-grpcio, python3-protobuf,    an independent gRPC client for the gateway's interop tests: protoc and
#   protobuf-compiler(-grpc)             grpc_python_plugin compile our .proto files, grpcio calls every RPC
#   chromium, chromium-driver            headless Chromium and chromedriver (W3C WebDriver) for the live page's tests
#   prometheus                           promtool checks the silo's /metrics text; a real Prometheus scrapes a silo in the metrics tests
#   docker-compose                       `docker-compose config` checks docker-compose.yml in the deployment tests;
#                                        installed without its recommended docker.io: no test needs a Docker engine
set -euo pipefail

packages=(cmake g++ libtorch-dev libopenblas0-pthread python3-torch python3-numpy fortunes-min curl postgresql iproute2
  python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc chromium chromium-driver prometheus)
packages_without_recommends=(docker-compose)

not_installed() {
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || echo "$package"
  done
}
mapfile -t missing < <(not_installed "${packages[@]}")
mapfile -t missing_without_recommends < <(not_installed "${packages_without_recommends[@]}")

if ((${#missing[@]} + ${#missing_without_recommends[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "setup: installing ${missing[*]} ${missing_without_recommends[*]}"
  $sudo apt-get update -q
  if ((${#missing[@]})); then DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"; fi
  if ((${#missing_without_recommends[@]})); then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing_without_recommends[@]}"
  fi
fi

if ! command -v dotnet >/dev/null; then
  echo "setup: error: the .NET 10 SDK is not on PATH (https://learn.microsoft.com/dotnet/core/install/linux-debian)" >&2
  exit 1
fi

blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 || true)
case "$blas" in
  *openblas*) ;;
  *) echo "setup: warning: libblas.so.3 resolves to $blas, not OpenBLAS; matmul will be slow" >&2 ;;
esac
