#!/usr/bin/env bash
# What metrics cost the silo: grain calls (same silo and cross silo, two ClusterSilos in one process) with the silo's
# meters listened to by its own OpenTelemetry MeterProvider against no listener, alternating in every repetition;
# recording a training step's and a gateway call's metrics; and one /metrics scrape of a realistic registry (4 runs ×
# 2 workers, 4 shards; 10 gateway methods × 5 codes; 20 grain interfaces), called directly and over HTTP.
#
#   bash bench/metrics.sh              # defaults (about 2 minutes)
#   bash bench/metrics.sh --reps 11    # further arguments go to the benchmark (--help lists them)
#
# Builds bench/OrleansLm.MetricsBench in Release and runs it once. The table is printed; it, the JSON (with each
# repetition's values) and machine info land in bench/results/metrics-<timestamp>/.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/runtime_bench.sh"
run_runtime_bench OrleansLm.MetricsBench metrics "about 2 minutes" "$@"
