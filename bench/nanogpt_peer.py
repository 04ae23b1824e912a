"""PyTorch peer for the model-library benchmark: nanoGPT's CPU recipe on tinyshakespeare, character level.

The GPT of gpt_model.py (OrleansLm's Transformer in plain PyTorch) on the recipe: 4 layers, 4 heads, 128-d, block 64, batch 12,
dropout 0, bias on, tied embeddings; AdamW lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on matrices only,
grad clip 1.0, linear warm-up 100 steps then cosine to 1e-4 at the last step; init N(0, 0.02) with residual
projections scaled by 1/sqrt(2 * layers). Val loss is the mean over --eval-batches random val batches.

Usage: /usr/bin/python3 bench/nanogpt_peer.py --data PATH [--iters 2000] [--threads 0] [--eval-batches 200] [--json OUT]
"""
import argparse
import json
import math
import time

import torch

from gpt_model import Gpt, adamw


def lr_at(step, iters, lr=1e-3, min_lr=1e-4, warmup=100):
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    ratio = (step - warmup) / max(1, iters - warmup)
    return min_lr + 0.5 * (1 + math.cos(math.pi * min(1.0, ratio))) * (lr - min_lr)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads; 0 keeps PyTorch's default")
    parser.add_argument("--eval-batches", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--json")
    args = parser.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    text = open(args.data, encoding="utf-8").read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([index[c] for c in text], dtype=torch.long)
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    block, batch = 64, 12

    def get_batch(source):
        starts = torch.randint(len(source) - block, (batch,))
        x = torch.stack([source[s:s + block] for s in starts])
        y = torch.stack([source[s + 1:s + 1 + block] for s in starts])
        return x, y

    model = Gpt(len(chars), block, layers=4, heads=4, d=128)
    optimizer = adamw(model, lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    start = time.perf_counter()
    for step in range(args.iters):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, args.iters)
        x, y = get_batch(train)
        loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 200 == 0:
            print(f"step {step} loss {loss.item():.4f}", flush=True)
    seconds = time.perf_counter() - start

    model.eval()
    with torch.no_grad():
        val_loss = sum(model(*get_batch(val)).item() for _ in range(args.eval_batches)) / args.eval_batches
    result = {"impl": "pytorch", "torch_version": torch.__version__, "threads": torch.get_num_threads(), "iters": args.iters,
              "train_seconds": seconds, "tokens_per_second": args.iters * batch * block / seconds,
              "val_loss": val_loss, "parameters": sum(p.numel() for p in model.parameters())}
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
