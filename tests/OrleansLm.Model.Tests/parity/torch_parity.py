"""Reference side of TorchParityTests: evaluates each case with PyTorch and writes outputs and gradients.

Usage: /usr/bin/python3 torch_parity.py INPUT.json OUTPUT.json

INPUT.json:  {"cases": [{"name", "op", "dtype": "float32"|"float64" (of the weights), "params": {...},
                         "inputs":  {name: {"dtype": "float32"|"float64"|"int64", "shape": [...], "data": [...],
                                            "requires_grad": bool}},
                         "weights": {output_name: {"shape": [...], "data": [...]}}}]}
For each case the script computes the op's named outputs, L = sum over outputs of sum(output * weight),
and L.backward(); it reports every output and the gradient of every input with requires_grad.
OUTPUT.json: {"torch_version": str, "python": str,
              "results": {name: {"outputs": {...}, "grads": {...}} or {"error": str}}}
Exit status: 0 on success (per-case errors are reported in the file), 2 for bad usage, 3 when torch
cannot be imported.
"""

import json
import sys
import traceback


def main():
    if len(sys.argv) != 3:
        print("usage: torch_parity.py INPUT.json OUTPUT.json", file=sys.stderr)
        return 2
    try:
        import torch
        import torch.nn.functional as F
    except Exception as error:  # ImportError, or a broken installation
        print(f"torch_parity.py: {sys.executable} cannot import torch ({error!r}); "
              "install Debian's python3-torch (apt-get install python3-torch)", file=sys.stderr)
        return 3

    dtypes = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64}

    def make(spec):
        tensor = torch.tensor(spec["data"], dtype=dtypes[spec["dtype"]]).reshape(spec["shape"])
        if spec.get("requires_grad"):
            tensor.requires_grad_(True)
        return tensor

    def dump(tensor):
        tensor = tensor.detach().to(torch.float64).contiguous()
        return {"shape": list(tensor.shape), "data": tensor.reshape(-1).tolist()}

    def lstm_cell(t, p):
        hidden = t["h"].shape[1]
        cell = torch.nn.LSTMCell(t["x"].shape[1], hidden, bias=True, dtype=t["x"].dtype)
        with torch.no_grad():
            cell.weight_ih.copy_(t["w_ih"])
            cell.weight_hh.copy_(t["w_hh"])
            cell.bias_ih.copy_(t["b_ih"])
            cell.bias_hh.copy_(t["b_hh"])
        h, c = cell(t["x"], (t["h"], t["c"]))
        # The parameters' gradients are reported under the names of the inputs they were copied from.
        params = {"w_ih": cell.weight_ih, "w_hh": cell.weight_hh, "b_ih": cell.bias_ih, "b_hh": cell.bias_hh}
        return {"h": h, "c": c}, params

    ops = {
        "matmul": lambda t, p: ({"y": torch.matmul(t["a"], t["b"])}, {}),
        "softmax": lambda t, p: ({"y": torch.softmax(t["x"], dim=p["dim"])}, {}),
        "log_softmax": lambda t, p: ({"y": torch.log_softmax(t["x"], dim=p["dim"])}, {}),
        "cross_entropy": lambda t, p: ({"y": F.cross_entropy(
            t["logits"], t["target"], reduction=p["reduction"], ignore_index=p["ignore_index"],
            label_smoothing=p["label_smoothing"])}, {}),
        "layer_norm": lambda t, p: ({"y": F.layer_norm(
            t["x"], p["normalized_shape"], t.get("weight"), t.get("bias"), eps=p["eps"])}, {}),
        "embedding": lambda t, p: ({"y": F.embedding(
            t["indices"], t["weight"], padding_idx=p["padding_idx"] if p["padding_idx"] >= 0 else None)}, {}),
        "lstm_cell": lstm_cell,
    }

    with open(sys.argv[1], encoding="utf-8") as stream:
        spec = json.load(stream)

    results = {}
    for case in spec["cases"]:
        try:
            tensors = {name: make(t) for name, t in case["inputs"].items()}
            outputs, parameters = ops[case["op"]](tensors, case.get("params", {}))
            loss = sum((outputs[name] * make(w | {"dtype": case["dtype"]})).sum()
                       for name, w in case["weights"].items())
            loss.backward()
            grads = {}
            for name, t in tensors.items():
                source = parameters.get(name, t)
                if case["inputs"][name].get("requires_grad"):
                    grads[name] = dump(source.grad) if source.grad is not None else None
            results[case["name"]] = {"outputs": {name: dump(o) for name, o in outputs.items()}, "grads": grads}
        except Exception:
            results[case["name"]] = {"error": traceback.format_exc()}

    with open(sys.argv[2], "w", encoding="utf-8") as stream:
        json.dump({"torch_version": torch.__version__, "python": sys.executable, "results": results}, stream)
    return 0


if __name__ == "__main__":
    sys.exit(main())
