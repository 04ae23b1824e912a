#!/usr/bin/env bash
# The distributed training step (BENCHMARKS.md, "Distributed training step"): nanoGPT's CPU recipe
# (bench/nanogpt-cpu.yaml on tinyshakespeare) on the single-process Trainer at the per-worker batch (12) and at the
# global batch (24), two Trainers at once (what the machine gives two workers' computations), and 2 ClusterSilos in
# one process (loopback TCP, in-memory membership) with one worker each, global batch 24, K = 1 and 2 parameter-server
# shards. One libtorch thread for each trainer and each worker. Per-step time and the overhead ratio, bytes the silos
# sent per step against 2·P·4·N, PS aggregation time, and the workers' phases (pull, data, forward, backward, push)
# from ITrainingRunGrain.Timings. Medians over the rounds in which the rest of the machine stayed quiet.
#
#   bash bench/training.sh                        # 10 warm-up + 50 timed steps per run, 5 rounds (about 4 minutes when quiet)
#   bash bench/training.sh --rounds 3 --steps 100 # further arguments go to the benchmark (--help lists them)
#
# Builds bench/OrleansLm.TrainingBench in Release and runs it once. The table is printed; it, the JSON (with each
# round's values and every step's loss) and machine info land in bench/results/training-<timestamp>/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -f ../shared/data/tinyshakespeare.txt ] \
  || { echo "training.sh: ../shared/data/tinyshakespeare.txt is missing (the benchmark corpus lives in ../shared/data)" >&2; exit 1; }

source bench/runtime_bench.sh
# bench/nanogpt-cpu.yaml names the corpus relative to the repository root, where this runs.
run_runtime_bench OrleansLm.TrainingBench training "about 4 minutes" "$@" bench/nanogpt-cpu.yaml
