#!/usr/bin/env bash
# Sampling through the silo's gRPC gateway (BENCHMARKS.md, "Gateway: sampling latency and throughput"). The benchmark
# trains bench/gateway-model.yaml's character-level Transformer (block 320) briefly in its own process, writes it as a
# model file and starts the silo application (silo/bin/Release) twice on it, one libtorch thread each: with the
# gateway's default batching and with Gateway:MaxBatchRows=1. Over HTTP/2 from closed loops of 1 and 32 clients it
# measures Generate, Score and GenerateStream latency (p50/p99) and throughput, the batcher's effect, and a health check
# and ListModels round trip. In its own process, on the same model file: greedy decoding of 64 tokens after 256 with
# the KV cache against recomputing the context every step (after checking that both choose the same tokens), and
# Generate through ServedModel next to the same Generate through the gateway (the gateway's overhead per request).
#
#   bash bench/gateway.sh                 # 3 rounds (about 4 minutes when quiet)
#   bash bench/gateway.sh --rounds 5      # further arguments go to the benchmark (--help lists them)
#
# Builds bench/OrleansLm.GatewayBench (and with it the silo) in Release and runs it once. The Markdown tables are
# printed; they, the JSON (each round's values) and machine info land in bench/results/gateway-<timestamp>/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -f ../shared/data/tinyshakespeare.txt ] \
  || { echo "gateway.sh: ../shared/data/tinyshakespeare.txt is missing (the benchmark corpus lives in ../shared/data)" >&2; exit 1; }

source bench/runtime_bench.sh
# bench/gateway-model.yaml names the corpus relative to the repository root, where this runs.
run_runtime_bench OrleansLm.GatewayBench gateway "about 4 minutes" "$@" bench/gateway-model.yaml silo/bin/Release/net10.0/OrleansLm.Silo.dll
