#!/usr/bin/env bash
# Packs OrleansLm.GpuBench for the GPU machine, which has no .NET and no network: a self-contained, compressed single
# file at .gpu/OrleansLm.GpuBench (git-ignored; the device tool carries it when asked: carry [".gpu"]). Without
# libolmtorch.so: .NET looks for the shim beside the executable first, and there bench/gpu.sh's CUDA build must win.
# Not trimmed: the model library's configuration code serializes with reflection, which trimming warns about.
#   bash bench/gpu-pack.sh     # then, on the GPU machine: bash bench/gpu.sh
# PACK_DIR=DIR packs into DIR instead (the tests do).
set -euo pipefail
cd "$(dirname "$0")/.."
# The device tool carries at most 64 MiB of working tree; the rest of the tree takes about 3 MB.
budget=$((56 * 1024 * 1024))
pack="${PACK_DIR:-.gpu}"
staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT

# Built in a folder of its own (--artifacts-path): a linux-x64 restore in the checkout's obj/ would change the outputs
# that the checkout's builds and tests run on. The native shim, which the file does not carry, is the checkout's own
# Release build (NativeBuildDir; CMake builds it there if it is missing) rather than one compiled to be thrown away.
dotnet publish bench/OrleansLm.GpuBench -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true \
  -p:EnableCompressionInSingleFile=true -p:InvariantGlobalization=true --artifacts-path "$staging/artifacts" \
  -p:NativeBuildDir="$PWD/model/obj/native/Release/" -o "$staging/out" -nologo -v quiet
mkdir -p "$pack"
cp "$staging/out/OrleansLm.GpuBench" "$pack/OrleansLm.GpuBench.tmp"
mv "$pack/OrleansLm.GpuBench.tmp" "$pack/OrleansLm.GpuBench"
size=$(stat -c %s "$pack/OrleansLm.GpuBench")
echo "packed $pack/OrleansLm.GpuBench: $size bytes ($((size / 1024 / 1024)) MiB; budget $((budget / 1024 / 1024)) MiB)"
[ "$size" -le "$budget" ] || { echo "gpu-pack.sh: the packed file exceeds the budget" >&2; exit 1; }
