#!/usr/bin/env bash
# Foundation benchmarks (issue 2): per-op call overhead and 1024x1024 matmul fwd+bwd throughput of
# OrleansLm's Torch API, next to PyTorch 1.13 on the same libtorch, same machine, same threads.
#
#   bash bench/foundation.sh                 # 5 alternating rounds, 2 threads
#   THREADS=1 ROUNDS=3 bash bench/foundation.sh
#
# Builds bench/OrleansLm.Benchmarks in Release, then runs ours and the PyTorch peer back to back,
# alternating which goes first each round to spread drift, and prints a table of the medians across
# rounds with the ratios. Raw JSON, machine info and the table land in bench/results/<timestamp>/
# (bench/results/latest points at the newest run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-5}"
# Debian's interpreter has python3-torch; the python3 first on PATH may be a pyenv without it.
PY="${TORCH_PYTHON:-/usr/bin/python3}"
STAMP="$(date +%Y%m%d-%H%M%S)"
OUT="$ROOT/bench/results/$STAMP"
mkdir -p "$OUT"

echo "== building bench/OrleansLm.Benchmarks (Release)" >&2
dotnet build "$ROOT/bench/OrleansLm.Benchmarks/OrleansLm.Benchmarks.csproj" -c Release -nologo -v quiet >&2
OURS_DLL="$ROOT/bench/OrleansLm.Benchmarks/bin/Release/net10.0/OrleansLm.Benchmarks.dll"
"$PY" -c 'import torch' 2>/dev/null || { echo "error: $PY has no torch (set TORCH_PYTHON)" >&2; exit 1; }

{
  echo "date: $(date -Iseconds)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "kernel: $(uname -r)"
  echo "dotnet: $(dotnet --version)"
  echo "torch (python): $("$PY" -c 'import torch; print(torch.__version__)')"
  if git -C "$ROOT" rev-parse --short HEAD >/dev/null 2>&1; then
    echo "git: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- model 2>/dev/null || echo ' (model/ modified in the working tree)')"
  fi
  echo "threads: $THREADS  rounds: $ROUNDS"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"

# The box may be shared (builds, tests): before each run wait, up to QUIET_WAIT_S seconds, for a second in
# which the CPUs are less than 15% busy. Runs that started busy are flagged in machine.txt.
QUIET_WAIT_S="${QUIET_WAIT_S:-60}"
busy_percent() {
  local a b
  read -r -a a < /proc/stat; sleep 1; read -r -a b < /proc/stat
  local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
  echo $(( total > 0 ? 100 - 100 * idle / total : 0 ))
}
wait_quiet() {
  local start=$SECONDS busy
  while :; do
    busy=$(busy_percent)
    if (( busy < 15 )); then echo "quiet (${busy}% busy)"; return; fi
    if (( SECONDS - start >= QUIET_WAIT_S )); then echo "BUSY (${busy}% busy after waiting ${QUIET_WAIT_S}s)"; return; fi
  done
}

run_ours() { dotnet "$OURS_DLL" "$1" --threads "$THREADS" --json > "$OUT/orleanslm-$1-$2.json"; }
run_peer() { "$PY" "$ROOT/bench/torch_peer.py" "$1" --threads "$THREADS" --json > "$OUT/pytorch-$1-$2.json"; }

for round in $(seq 1 "$ROUNDS"); do
  for bench in op-overhead matmul; do
    if (( round % 2 == 1 )); then order="run_ours run_peer"; else order="run_peer run_ours"; fi
    for run in $order; do
      state="$(wait_quiet)"
      echo "== round $round/$ROUNDS: $bench ${run#run_} ($state)" >&2
      echo "round $round $bench ${run#run_}: $state, loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
      "$run" "$bench" "$round"
    done
  done
done
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"

"$PY" "$ROOT/bench/summarize_foundation.py" "$OUT" | tee "$OUT/summary.md"
ln -sfn "$STAMP" "$ROOT/bench/results/latest"
echo "results: $OUT" >&2
