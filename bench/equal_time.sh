#!/usr/bin/env bash
# Equal-wall-time comparison of the model families on tinyshakespeare, character level: KN 5-gram (counted),
# then FixedWindow, LSTM 2×256, GRU 2×256 and the nanoGPT-recipe Transformer, each trained by `olm train`
# for the same time budget (BUDGET seconds, default 150), one after another on an otherwise idle machine.
# Prints validation loss (nats/token, 200 batches; the n-gram over the whole validation split), steps,
# tokens seen and training seconds per model.
#   BUDGET=30 bash bench/equal_time.sh    # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${BUDGET:-150}"
out="bench/results/equal-time-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
data="$(cd .. && pwd)/shared/data/tinyshakespeare.txt"
[ -f "$data" ] || { echo "equal_time.sh: $data is missing (the benchmark corpus lives in ../shared/data)" >&2; exit 1; }

dotnet build client/OrleansLm.Cli -c Release -nologo -v quiet
olm=(dotnet client/OrleansLm.Cli/bin/Release/net10.0/olm.dll)

# The Transformer keeps nanoGPT's recipe; its cosine runs over the steps that fit the budget at ~12k tokens/s.
sed -e "s|^  steps: .*|  steps: $(( budget * 16 > 200 ? budget * 16 : 200 ))\n  max_seconds: BUDGET|" bench/nanogpt-cpu.yaml > "$out/transformer.yaml.in"
for model in kn5 fixed-window lstm gru transformer; do
  template="bench/equal-time/$model.yaml"
  [ "$model" = transformer ] && template="$out/transformer.yaml.in"
  sed -e "s|^  path: .*|  path: $data|" -e "s|BUDGET|$budget|" -e "s|OUT|$out|" "$template" > "$out/$model.yaml"
  echo "equal_time.sh: training $model for up to ${budget} s" >&2
  "${olm[@]}" train --config "$out/$model.yaml" --json > "$out/$model.jsonl" || { cat "$out/$model.jsonl" >&2; exit 1; }
done

/usr/bin/python3 - "$out" "$budget" <<'PY'
import json, sys
out, budget = sys.argv[1], sys.argv[2]
print(f"equal wall time: {budget} s of training each (tinyshakespeare, characters)")
print(f"{'model':14}{'val loss':>10}{'params':>12}{'steps':>8}{'tokens':>12}{'train s':>9}")
for model in ["kn5", "fixed-window", "lstm", "gru", "transformer"]:
    events = [json.loads(line) for line in open(f"{out}/{model}.jsonl") if line.startswith("{")]
    done = events[-1]
    steps = [e for e in events if e["event"] == "step"]
    last = steps[-1] if steps else None
    tokens = round(last["tokens_per_second"] * last["elapsed_seconds"]) if last else done["train_tokens"]
    seconds = last["elapsed_seconds"] if last else done["elapsed_seconds"]
    print(f"{model:14}{done['validation_loss']:10.4f}{done['parameters']:12,}{last['step'] if last else 0:8}{tokens:12,}{seconds:9.1f}")
print(f"results: {out}")
PY
