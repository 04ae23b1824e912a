"""Reference side of TransformerParityTests: the same decoder-only Transformer written in PyTorch in
nanoGPT's shape, loaded with the C# model's weights by name; reports logits, loss and gradients.

Usage: /usr/bin/python3 transformer_parity.py INPUT.json OUTPUT.json

INPUT.json:  {"cases": [{"name", "dtype": "float32"|"float64",
                         "config": {"vocabulary_size", "block_size", "layers", "heads", "model_dimension",
                                    "bias", "positions": "learned"|"sinusoidal", "norm": "pre"|"post", "tied"},
                         "tokens": [[...]], "targets": [[...]],
                         "parameters": {name: {"shape": [...], "data": [...]}}}]}
The parameter names must be exactly the module's (named_parameters(), where a tied head is the token
embedding). The sinusoidal table is computed here, not copied. Dropout is off.
OUTPUT.json: {"torch_version": str,
              "results": {name: {"logits", "loss", "grads": {param: tensor}} or {"error": str}}},
tensors as {"shape": [...], "data": [...]}.
Exit status: see reference_runner.py.
"""

import math
import sys

from reference_runner import dump, run


def evaluator(torch):
    import torch.nn as nn
    import torch.nn.functional as F

    class LayerNorm(nn.Module):
        """nanoGPT's LayerNorm with an optional bias (torch 1.13's nn.LayerNorm always has one)."""

        def __init__(self, d, bias):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(d))
            self.bias = nn.Parameter(torch.zeros(d)) if bias else None

        def forward(self, x):
            return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)

    class CausalSelfAttention(nn.Module):
        def __init__(self, c):
            super().__init__()
            d = c["model_dimension"]
            self.heads = c["heads"]
            self.qkv = nn.Linear(d, 3 * d, bias=c["bias"])
            self.projection = nn.Linear(d, d, bias=c["bias"])

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.qkv(x).split(C, dim=2)
            q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)
            k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
            v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            mask = torch.tril(torch.ones(T, T)).view(1, 1, T, T)
            att = F.softmax(att.masked_fill(mask == 0, float("-inf")), dim=-1)
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            return self.projection(y)

    class MLP(nn.Module):
        def __init__(self, c):
            super().__init__()
            d = c["model_dimension"]
            self.expand = nn.Linear(d, 4 * d, bias=c["bias"])
            self.contract = nn.Linear(4 * d, d, bias=c["bias"])

        def forward(self, x):
            return self.contract(F.gelu(self.expand(x)))

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            d = c["model_dimension"]
            self.pre = c["norm"] == "pre"
            self.attention_norm = LayerNorm(d, c["bias"])
            self.attention = CausalSelfAttention(c)
            self.mlp_norm = LayerNorm(d, c["bias"])
            self.mlp = MLP(c)

        def forward(self, x):
            if self.pre:
                x = x + self.attention(self.attention_norm(x))
                return x + self.mlp(self.mlp_norm(x))
            x = self.attention_norm(x + self.attention(x))
            return self.mlp_norm(x + self.mlp(x))

    class GPT(nn.Module):
        def __init__(self, c):
            super().__init__()
            d, V, block = c["model_dimension"], c["vocabulary_size"], c["block_size"]
            self.token_embedding = nn.Embedding(V, d)
            if c["positions"] == "learned":
                self.position_embedding = nn.Embedding(block, d)
            else:
                position = torch.arange(block, dtype=torch.float64).unsqueeze(1)
                frequency = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * (-math.log(10000.0) / d))
                table = torch.zeros(block, d, dtype=torch.float64)
                table[:, 0::2] = torch.sin(position * frequency)
                table[:, 1::2] = torch.cos(position * frequency[: d // 2])
                self.register_buffer("position_encoding", table.float())
            self.blocks = nn.ModuleList([Block(c) for _ in range(c["layers"])])
            self.final_norm = LayerNorm(d, c["bias"]) if c["norm"] == "pre" else None
            self.head = nn.Linear(d, V, bias=False)
            if c["tied"]:
                self.head.weight = self.token_embedding.weight

        def forward(self, idx, targets):
            T = idx.size(1)
            positions = (self.position_embedding.weight if hasattr(self, "position_embedding")
                         else self.position_encoding)[:T]
            x = self.token_embedding(idx) + positions
            for block in self.blocks:
                x = block(x)
            if self.final_norm is not None:
                x = self.final_norm(x)
            logits = self.head(x)
            return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    def evaluate(case):
        dtype = {"float32": torch.float32, "float64": torch.float64}[case["dtype"]]
        model = GPT(case["config"]).to(dtype)
        params = dict(model.named_parameters())  # a tied head appears once, as the token embedding
        ours = case["parameters"]
        if set(params) != set(ours):
            raise ValueError(f"parameter names differ: only torch {sorted(set(params) - set(ours))}, "
                             f"only ours {sorted(set(ours) - set(params))}")
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(torch.tensor(ours[name]["data"], dtype=dtype).reshape(ours[name]["shape"]))
        tokens = torch.tensor(case["tokens"], dtype=torch.int64)
        targets = torch.tensor(case["targets"], dtype=torch.int64)
        logits, loss = model(tokens, targets)
        loss.backward()
        return {
            "logits": dump(logits),
            "loss": dump(loss),
            "grads": {name: dump(p.grad) for name, p in params.items()},
        }

    return evaluate


if __name__ == "__main__":
    sys.exit(run("transformer_parity.py", evaluator))
