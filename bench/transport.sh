#!/usr/bin/env bash
# Silo transport benchmarks (issue 4): cross-silo bandwidth of 64 MB messages through TcpSiloTransport next to raw
# loopback TCP (a plain socket pair moving the same bytes) in the same process and run — goal >= 0.7x — plus
# small-call round trips (p50/p99, sequential), calls/s with 64 in flight, and small calls beside 64 MB transfers.
#
#   bash bench/transport.sh                           # defaults
#   bash bench/transport.sh --socket-buffer-kb 256    # further arguments go to the benchmark (run it without any for usage)
#
# Builds bench/OrleansLm.TransportBench in Release and runs it once. The table is printed; it, the JSON (with the
# per-repetition bandwidth samples) and machine info land in bench/results/transport-<timestamp>/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STAMP="$(date +%Y%m%d-%H%M%S)"
OUT="$ROOT/bench/results/transport-$STAMP"
mkdir -p "$OUT"

echo "== building bench/OrleansLm.TransportBench (Release)" >&2
dotnet build "$ROOT/bench/OrleansLm.TransportBench/OrleansLm.TransportBench.csproj" -c Release -nologo -v quiet >&2
DLL="$ROOT/bench/OrleansLm.TransportBench/bin/Release/net10.0/OrleansLm.TransportBench.dll"

{
  echo "date: $(date -Iseconds)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "kernel: $(uname -r)"
  echo "dotnet: $(dotnet --version)"
  echo "tcp_rmem: $(cat /proc/sys/net/ipv4/tcp_rmem 2>/dev/null || echo '?')  tcp_wmem: $(cat /proc/sys/net/ipv4/tcp_wmem 2>/dev/null || echo '?')"
  if git -C "$ROOT" rev-parse --short HEAD >/dev/null 2>&1; then
    echo "git: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- silo/Runtime 2>/dev/null || echo ' (silo/Runtime modified in the working tree)')"
  fi
  echo "arguments: ${*:-(defaults)}"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"

echo "== running (about 30 s)" >&2
dotnet "$DLL" --json "$OUT/transport.json" "$@" | tee "$OUT/summary.txt"
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
echo "results: $OUT" >&2
