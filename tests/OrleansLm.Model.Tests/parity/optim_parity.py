"""Reference side of OptimizerParityTests: runs torch.optim on the same parameters and losses, records trajectories.

Usage: /usr/bin/python3 optim_parity.py INPUT.json OUTPUT.json

INPUT.json: {"cases": [{"name", "optimizer": "sgd"|"adam"|"adamw"|"adagrad"|"rmsprop",
                        "kwargs": {torch constructor keyword arguments},
                        "groups": [{"params": [indices], "lr"?: float, "weight_decay"?: float}],
                        "params": [{"shape": [...], "data": [...]}],
                        "steps": [{"weights": [[...] or null per parameter], "lr": float or null,
                                   "clip": float or null}]}]}
All tensors are float64. Each step: zero_grad(set_to_none=True); L = sum over parameters i whose weights
are not null of sum(W_i * sin(p_i) + 0.1 * p_i * p_i); L.backward(); if "lr", set every group's lr; if
"clip", clip_grad_norm_(all parameters, clip); step(). A parameter with null weights gets no gradient.
OUTPUT.json: {"torch_version": str, "results": {name: {"trajectory": [[flat values per parameter] per step],
                                                      "norms": [per clipped step]} or {"error": str}}}
Exit status: see reference_runner.py.
"""

import sys

from reference_runner import run


def evaluator(torch):
    optimizers = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
                  "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop}

    def run_case(case):
        params = [torch.tensor(p["data"], dtype=torch.float64).reshape(p["shape"]).requires_grad_(True)
                  for p in case["params"]]
        groups = [{k: v for k, v in g.items() if k != "params"} | {"params": [params[i] for i in g["params"]]}
                  for g in case["groups"]]
        optimizer = optimizers[case["optimizer"]](groups, **case["kwargs"])
        trajectory, norms = [], []
        for step in case["steps"]:
            optimizer.zero_grad(set_to_none=True)
            loss = sum((torch.tensor(w, dtype=torch.float64).reshape(p.shape) * torch.sin(p) + 0.1 * p * p).sum()
                       for p, w in zip(params, step["weights"]) if w is not None)
            loss.backward()
            if step["lr"] is not None:
                for group in optimizer.param_groups:
                    group["lr"] = step["lr"]
            if step["clip"] is not None:
                norms.append(float(torch.nn.utils.clip_grad_norm_(params, step["clip"])))
            optimizer.step()
            trajectory.append([p.detach().reshape(-1).tolist() for p in params])
        return {"trajectory": trajectory, "norms": norms}

    return run_case


if __name__ == "__main__":
    sys.exit(run("optim_parity.py", evaluator))
