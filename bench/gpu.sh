#!/usr/bin/env bash
# The GPU benchmark, run ON the GPU machine from the repository root. That machine has PyTorch with CUDA, nvcc, g++ and
# CMake, but no .NET and no network, so OrleansLm.GpuBench comes packed (bash bench/gpu-pack.sh, here, writes
# .gpu/OrleansLm.GpuBench; the device tool carries it with carry [".gpu"]). Steps:
#   1. builds the shim (model/native) against PyTorch's own libtorch into model/obj/native/cuda (C++20 if the default fails);
#   2. trains a GPT-2-small-shaped Transformer (12 layers, 12 heads, 768-d, block 1024, vocab 50304, batch 8, bf16 autocast;
#      SHAPE overrides all but the precision)
#      with OrleansLm.GpuBench throughput and with bench/gpu_peer.py (the same model in PyTorch eager): tokens/s and MFU;
#   3. the first 20 losses of a small run on the CPU and on CUDA through the same (CUDA-built) shim, which must agree;
#   4. prints a summary and writes it, with every run's JSON and log, to $OUT (default bench/results/gpu-DATE).
# MFU's peak is the GPU's dense BFloat16 TFLOP/s, picked from its name (PEAK_TFLOPS overrides).
# Environment: PEAK_TFLOPS, PYTHON (python3), WARMUP (10), STEPS (50), OUT, SHIM_BUILD (model/obj/native/cuda);
# for a dry run of this script on a machine without a GPU, DEVICE=cpu (PEAK_TFLOPS then required) and SHAPE, e.g.
#   DEVICE=cpu PEAK_TFLOPS=1 PYTHON=/usr/bin/python3 SHAPE="--layers 2 --heads 2 --dim 64 --block 64 --vocab 512 --batch 4" \
#     SHIM_BUILD="$(mktemp -d)" bash bench/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
out="${OUT:-bench/results/gpu-$(date +%Y%m%d-%H%M%S)}"
build="${SHIM_BUILD:-model/obj/native/cuda}"
exe=.gpu/OrleansLm.GpuBench
mkdir -p "$out"
[ -x "$exe" ] || { echo "gpu.sh: $exe is missing: run bash bench/gpu-pack.sh where .NET is, and carry .gpu here" >&2; exit 1; }
# .NET loads "olmtorch" from beside the executable before LD_LIBRARY_PATH: a CPU build there would shadow the CUDA one.
[ ! -e .gpu/libolmtorch.so ] || { echo "gpu.sh: remove .gpu/libolmtorch.so, which would be loaded instead of the CUDA build" >&2; exit 1; }

# ---- 1. the shim against PyTorch's libtorch
prefix="$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
torch_lib="$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
build_shim() {  # extra CMake arguments; the log goes to $out/cmake$1.log
  local log="$out/cmake$1.log"
  shift
  cmake -S model/native -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" "$@" > "$log" 2>&1 \
    && cmake --build "$build" --parallel >> "$log" 2>&1
}
echo "== building the shim against $prefix"
if ! build_shim ""; then
  echo "gpu.sh: the shim did not build with CMake's default C++ standard ($out/cmake.log); trying C++20" >&2
  rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"  # a fresh configure; the rest of the folder may be someone's
  build_shim "-cxx20" -DCMAKE_CXX_STANDARD=20 || { tail -40 "$out/cmake-cxx20.log" >&2; exit 1; }
fi
export LD_LIBRARY_PATH="$build:$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# ---- 2. the GPU and its peak
device="${DEVICE:-cuda}"
if [ "$device" = cpu ]; then
  gpu="cpu (dry run)"
  peak=""
else
  gpu="$(nvidia-smi --query-gpu=name --format=csv,noheader -i 0 2>/dev/null | head -1 \
         || "$python" -c 'import torch; print(torch.cuda.get_device_name(0))')"
  case "$gpu" in
    *NVL*) peak=835 ;;              # H100 NVL, H200 NVL: 1671 TFLOP/s with sparsity
    *H100*PCIe*) peak=756 ;;
    *H100*|*H200*) peak=989.4 ;;    # H100 SXM, H200 SXM
    *) peak="" ;;
  esac
  nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
fi
peak="${PEAK_TFLOPS:-$peak}"
[ -n "$peak" ] || { echo "gpu.sh: no dense BFloat16 peak is known for '$gpu': set PEAK_TFLOPS" >&2; exit 1; }
echo "== $gpu, dense BFloat16 peak $peak TFLOP/s"

# ---- 3. throughput, ours then PyTorch's, the same shape and method
read -r -a model_shape <<< "${SHAPE:---layers 12 --heads 12 --dim 768 --block 1024 --vocab 50304 --batch 8}"
options=(--device "$device" "${model_shape[@]}" --warmup "${WARMUP:-10}" --steps "${STEPS:-50}" --precision bf16 --peak-tflops "$peak")
echo "== OrleansLm.GpuBench throughput ${options[*]}"
"$exe" throughput "${options[@]}" --json "$out/orleanslm.json" 2>&1 | tee "$out/orleanslm.log"
echo "== bench/gpu_peer.py (PyTorch eager)"
"$python" bench/gpu_peer.py "${options[@]}" --json "$out/pytorch.json" 2>&1 | tee "$out/pytorch.log"

# ---- 4. the same small run's losses on the CPU and on the device, through the same shim
echo "== OrleansLm.GpuBench losses --device cpu"
"$exe" losses --device cpu --json "$out/losses-cpu.json" 2>&1 | tee "$out/losses-cpu.log"
echo "== OrleansLm.GpuBench losses --device $device"
"$exe" losses --device "$device" --json "$out/losses-device.json" 2>&1 | tee "$out/losses-device.log"

"$python" - "$out" "$gpu" <<'PY'
import json, sys
out, gpu = sys.argv[1], sys.argv[2]
load = lambda name: json.load(open(f"{out}/{name}.json"))
ours, peer = load("orleanslm"), load("pytorch")
cpu, on_device = load("losses-cpu")["losses"], load("losses-device")
device, on_device = on_device["device"], on_device["losses"]
# fp32 on both devices (TF32 off): they differ by the order of floating-point sums only.
tolerance = 1e-3
same_model = ours["parameters"] == peer["parameters"] and ours["flops_per_token"] == peer["flops_per_token"]
loss_diff = max(abs(a - b) for a, b in zip(cpu, on_device)) if len(cpu) == len(on_device) else float("inf")
summary = {
    "gpu": gpu, "peak_tflops": ours["peak_tflops"], "same_model": same_model,
    "tokens_per_second_ratio": ours["tokens_per_second"] / peer["tokens_per_second"],
    "orleanslm": {k: ours[k] for k in ("tokens_per_second", "step_ms", "mfu", "torch_version")},
    "pytorch": {k: peer[k] for k in ("tokens_per_second", "step_ms", "mfu", "torch_version")},
    "parameters": ours["parameters"], "flops_per_token": ours["flops_per_token"],
    "losses": {"steps": len(cpu), "device": device, "max_abs_diff_from_cpu": loss_diff, "tolerance": tolerance, "agree": loss_diff <= tolerance},
    "goals": {"ratio_at_least_0.9": ours["tokens_per_second"] >= 0.9 * peer["tokens_per_second"], "mfu_at_least_35%": ours["mfu"] >= 0.35},
}
with open(f"{out}/summary.json", "w") as f:
    json.dump(summary, f, indent=2)
print(f"\n{ours['layers']} layers, {ours['heads']} heads, {ours['dim']}-d, block {ours['block']}, vocab {ours['vocab']}, batch {ours['batch']}, "
      f"bf16 on {gpu}, peak {ours['peak_tflops']} TFLOP/s")
print(f"{'':22}{'OrleansLm':>12}{'PyTorch':>12}")
print(f"{'tokens/s':22}{ours['tokens_per_second']:12.0f}{peer['tokens_per_second']:12.0f}")
print(f"{'ms/step':22}{ours['step_ms']:12.1f}{peer['step_ms']:12.1f}")
print(f"{'MFU':22}{ours['mfu']:12.1%}{peer['mfu']:12.1%}")
print(f"ratio ours/PyTorch tokens/s: {summary['tokens_per_second_ratio']:.3f} (goal >= 0.9); same N and flops/token: {same_model}")
print(f"losses CPU vs {device}, {len(cpu)} steps: max |diff| {loss_diff:.2e} (tolerance {tolerance:g})")
print(f"results: {out}")
sys.exit(0 if same_model and summary["losses"]["agree"] else 1)
PY
