#!/usr/bin/env bash
# The model-library benchmark: nanoGPT's CPU recipe on tinyshakespeare (bench/nanogpt-cpu.yaml), trained
# by `olm train` and by the plain-PyTorch peer (bench/nanogpt_peer.py), back to back on this machine with
# the same threads. Prints validation loss (200 batches) and training tokens/s for both, and the ratio.
#   ITERS=300 bash bench/nanogpt.sh    # a quicker throughput-only comparison (ITERS > 100, the warm-up)
set -euo pipefail
cd "$(dirname "$0")/.."
iters="${ITERS:-2000}"
out="bench/results/nanogpt-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
data="$(cd .. && pwd)/shared/data/tinyshakespeare.txt"
[ -f "$data" ] || { echo "nanogpt.sh: $data is missing (the benchmark corpus lives in ../shared/data)" >&2; exit 1; }

dotnet build client/OrleansLm.Cli -c Release -nologo -v quiet
sed -e "s|^  path: .*|  path: $data|" -e "s|^  steps: .*|  steps: $iters|" bench/nanogpt-cpu.yaml > "$out/run.yaml"

dotnet client/OrleansLm.Cli/bin/Release/net10.0/olm.dll train --config "$out/run.yaml" --json > "$out/ours.jsonl" \
  || { cat "$out/ours.jsonl" >&2; exit 1; }
/usr/bin/python3 bench/nanogpt_peer.py --data "$data" --iters "$iters" --json "$out/pytorch.json" > "$out/pytorch.log" 2>&1 \
  || { cat "$out/pytorch.log" >&2; exit 1; }

/usr/bin/python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
events = [json.loads(line) for line in open(f"{out}/ours.jsonl") if line.startswith("{")]
last_step = [e for e in events if e["event"] == "step"][-1]
ours_val = [e for e in events if e["event"] == "evaluation"][-1]["validation_loss"]
peer = json.load(open(f"{out}/pytorch.json"))
print(f"{'':24}{'OrleansLm':>12}{'PyTorch':>12}{'ratio':>8}")
print(f"{'tokens/s (training)':24}{last_step['tokens_per_second']:12.0f}{peer['tokens_per_second']:12.0f}"
      f"{last_step['tokens_per_second'] / peer['tokens_per_second']:8.2f}")
print(f"{'val loss (200 batches)':24}{ours_val:12.4f}{peer['val_loss']:12.4f}")
print(f"results: {out}")
PY
