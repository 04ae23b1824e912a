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

source "$(dirname "${BASH_SOURCE[0]}")/runtime_bench.sh"
run_runtime_bench OrleansLm.TransportBench transport "about 30 s" "$@"
