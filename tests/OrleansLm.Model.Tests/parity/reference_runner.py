"""The driver every parity/*.py reference script shares: usage check, the torch import guard, and the
per-case loop from INPUT.json ({"cases": [...]}) to OUTPUT.json ({"torch_version", "python", "results"}).

Exit status: 0 on success (per-case errors are reported in the file as {"error": traceback}), 2 for bad
usage, 3 when torch cannot be imported (PythonPeer.TorchMissingExitCode on the C# side).
"""

import json
import sys
import traceback


def run(script, evaluator_for):
    """evaluator_for(torch) returns evaluate(case) -> the case's result (a JSON-serialisable dict)."""
    if len(sys.argv) != 3:
        print(f"usage: {script} INPUT.json OUTPUT.json", file=sys.stderr)
        return 2
    try:
        import torch
    except Exception as error:  # ImportError, or a broken installation
        print(f"{script}: {sys.executable} cannot import torch ({error!r}); "
              "install Debian's python3-torch (apt-get install python3-torch)", file=sys.stderr)
        return 3
    evaluate = evaluator_for(torch)

    with open(sys.argv[1], encoding="utf-8") as stream:
        spec = json.load(stream)
    results = {}
    for case in spec["cases"]:
        try:
            results[case["name"]] = evaluate(case)
        except Exception:
            results[case["name"]] = {"error": traceback.format_exc()}

    with open(sys.argv[2], "w", encoding="utf-8") as stream:
        json.dump({"torch_version": torch.__version__, "python": sys.executable, "results": results}, stream)
    return 0


def dump(tensor):
    """A tensor as {"shape", "data"} in float64, the form the C# side reads."""
    tensor = tensor.detach().double().contiguous()
    return {"shape": list(tensor.shape), "data": tensor.reshape(-1).tolist()}
