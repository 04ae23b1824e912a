#!/usr/bin/env bash
# The main job, for now: start a silo on loopback, check its health with the olm client, then train a
# tiny character model in-process and print a sample. Stops the silo on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
dotnet build OrleansLm.sln -c Release -nologo -v quiet

port=${OLM_PORT:-5080}
url="http://127.0.0.1:$port/"
olm() { dotnet client/OrleansLm.Cli/bin/Release/net10.0/olm.dll "$@"; }

dotnet silo/bin/Release/net10.0/OrleansLm.Silo.dll --urls "$url" > silo.log 2>&1 &
silo=$!
trap 'kill "$silo" 2>/dev/null || true; wait "$silo" 2>/dev/null || true' EXIT

for attempt in $(seq 1 60); do
  if olm health --url "$url" --timeout 2 > /dev/null 2>&1; then break; fi
  if ! kill -0 "$silo" 2>/dev/null; then echo "main: the silo exited; see silo.log" >&2; cat silo.log >&2; exit 1; fi
  if [ "$attempt" -eq 60 ]; then echo "main: the silo did not become healthy in 30 s; see silo.log" >&2; exit 1; fi
  sleep 0.5
done
olm health --url "$url"
olm train "$@"
olm sample --checkpoint olm-run.safetensors --prompt "The " --max-tokens 300 --seed 7
olm score --checkpoint olm-run.safetensors --text "To be, or not to be, that is the question."
