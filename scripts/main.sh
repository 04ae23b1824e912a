#!/usr/bin/env bash
# The main job: starts a local cluster (a silo with two worker devices and the gRPC gateway), trains the built-in run
# on it through the gateway with live progress, then streams a sample from the trained run, exports it and scores a
# line with the export, all through the gateway. Stops the silo on exit. Extra arguments go to `olm run start`, e.g.
# `bash scripts/main.sh --config my-run.yaml`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
dotnet build OrleansLm.sln -c Release -nologo -v quiet

work=${OLM_MAIN_DIR:-olm-main}   # the silo's log, checkpoints and exported models
port=${OLM_PORT:-5080}
mkdir -p "$work"
# A fresh admin token per run; the olm client reads it (and the gateway URL) from the environment.
OLM_TOKEN=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
OLM_GATEWAY="http://127.0.0.1:${OLM_GATEWAY_PORT:-5081}"
export OLM_TOKEN OLM_GATEWAY
olm() { dotnet client/OrleansLm.Cli/bin/Release/net10.0/olm.dll "$@"; }

OLM_Gateway__Listen="$OLM_GATEWAY" OLM_Gateway__AdminToken="$OLM_TOKEN" \
OLM_Gateway__ModelDirectory="$PWD/$work/models" OLM_Cluster__CheckpointRoot="$PWD/$work/checkpoints" \
OLM_Cluster__Devices=2 OLM_Silo__TorchThreads=1 \
  dotnet silo/bin/Release/net10.0/OrleansLm.Silo.dll --urls "http://127.0.0.1:$port" > "$work/silo.log" 2>&1 &
silo=$!
trap 'kill "$silo" 2>/dev/null || true; wait "$silo" 2>/dev/null || true' EXIT

for attempt in $(seq 1 60); do
  if olm health --url "http://127.0.0.1:$port/" --timeout 2 > /dev/null 2>&1 && grep -q '^GATEWAY ' "$work/silo.log"; then break; fi
  if ! kill -0 "$silo" 2>/dev/null; then echo "main: the silo exited; see $work/silo.log" >&2; cat "$work/silo.log" >&2; exit 1; fi
  if [ "$attempt" -eq 60 ]; then echo "main: the silo did not become healthy in 30 s; see $work/silo.log" >&2; exit 1; fi
  sleep 0.5
done
olm health --url "http://127.0.0.1:$port/"

run="demo-$(date +%Y%m%d-%H%M%S)"
olm run start --run-id "$run" --workers 2 --watch "$@"
olm sample --model "run:$run" --prompt "The " --max-tokens 300 --temperature 0.8 --seed 7
olm run export "$run" --name demo
olm models
olm score --model demo --text "To be, or not to be, that is the question."
