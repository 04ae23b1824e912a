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

source "$(dirname "${BASH_SOURCE[0]}")/runtime_bench.sh"
run_runtime_bench OrleansLm.GrainCallBench grain-calls "about 50 s" "$@"
