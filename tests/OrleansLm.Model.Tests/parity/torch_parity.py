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
Exit status: see reference_runner.py.
"""

import sys

from reference_runner import dump, run


def evaluator(torch):
    import torch.nn.functional as F

    dtypes = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64}

    def make(spec):
        tensor = torch.tensor(spec["data"], dtype=dtypes[spec["dtype"]]).reshape(spec["shape"])
        if spec.get("requires_grad"):
            tensor.requires_grad_(True)
        return tensor

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

    def evaluate(case):
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
        return {"outputs": {name: dump(o) for name, o in outputs.items()}, "grads": grads}

    return evaluate


if __name__ == "__main__":
    sys.exit(run("torch_parity.py", evaluator))
