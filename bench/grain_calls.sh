#!/usr/bin/env bash
# Grain call round trips (issue 4): two ClusterSilos in one process on loopback (shared in-memory membership table,
# cluster secret) — a grain on the calling silo, and one on the other silo with its directory entry on either — next
# to a raw loopback TCP ping-pong and a bare TcpSiloTransport carrying the same bytes, in the same run.
# Sequential p50/p99, calls/s with 64 callers, and per call: thread-pool work items, bytes allocated, TCP segments.
#
#   bash bench/grain_calls.sh              # defaults (about 50 s)
#   bash bench/grain_calls.sh --reps 9     # further arguments go to the benchmark (--help lists them)
#
# Builds bench/OrleansLm.GrainCallBench in Release and runs it once. The table is printed; it, the JSON (with each
# repetition's values) and machine info land in bench/results/grain-calls-<timestamp>/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STAMP="$(date +%Y%m%d-%H%M%S)"
OUT="$ROOT/bench/results/grain-calls-$STAMP"
mkdir -p "$OUT"

echo "== building bench/OrleansLm.GrainCallBench (Release)" >&2
dotnet build "$ROOT/bench/OrleansLm.GrainCallBench/OrleansLm.GrainCallBench.csproj" -c Release -nologo -v quiet >&2
DLL="$ROOT/bench/OrleansLm.GrainCallBench/bin/Release/net10.0/OrleansLm.GrainCallBench.dll"

{
  echo "date: $(date -Iseconds)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "kernel: $(uname -r)"
  echo "dotnet: $(dotnet --version)"
  if git -C "$ROOT" rev-parse --short HEAD >/dev/null 2>&1; then
    echo "git: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- silo/Runtime 2>/dev/null || echo ' (silo/Runtime modified in the working tree)')"
  fi
  echo "arguments: ${*:-(defaults)}"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"

echo "== running (about 50 s)" >&2
dotnet "$DLL" --json "$OUT/grain_calls.json" "$@" | tee "$OUT/summary.txt"
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
echo "results: $OUT" >&2
