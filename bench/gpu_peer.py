"""PyTorch eager peer of `OrleansLm.GpuBench throughput`: the same model, optimizer, data, timing and JSON fields.

The model is gpt_model.Gpt (OrleansLm's TransformerLm in plain PyTorch: bias on, tied embeddings, dropout 0), built on
the CPU from --seed and moved to --device; AdamW lr 6e-4, betas (0.9, 0.95), weight decay 0.1 on matrices only,
PyTorch's default implementation. One batch of uniform random tokens, drawn on the device once and trained on at every
step (data loading is not measured). A step: forward (under torch.autocast in BFloat16 with --precision bf16),
backward, clip_grad_norm_ 1.0, step, zero_grad. --warmup steps, then --steps timed between two synchronizations.
MFU = tokens/s x flops/token / (--peak-tflops x 1e12), flops/token by PaLM's appendix B (Gpt.flops_per_token).

Usage: python3 bench/gpu_peer.py [--device cuda] [--layers 12] [--heads 12] [--dim 768] [--block 1024] [--vocab 50304]
                                 [--batch 8] [--warmup 10] [--steps 50] [--precision bf16] [--tf32] [--peak-tflops P]
                                 [--seed 1337] [--json OUT]
Exits with 3 when torch cannot be imported (as the parity scripts).
"""
import argparse
import contextlib
import json
import os
import sys
import time

try:
    import torch
except ImportError as e:
    print(f"gpu_peer.py: cannot import torch: {e}", file=sys.stderr)
    sys.exit(3)

from gpt_model import Gpt, adamw

DATA = "synthetic: one batch of uniform random tokens drawn on the device, the same every step; data loading excluded"


def positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    for name, default in [("layers", 12), ("heads", 12), ("dim", 768), ("block", 1024), ("vocab", 50304), ("batch", 8),
                          ("steps", 50)]:
        parser.add_argument(f"--{name}", type=positive(int), default=default)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="bf16")
    parser.add_argument("--tf32", action="store_true")
    parser.add_argument("--peak-tflops", type=positive(float))
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.dim % args.heads:
        parser.error(f"--dim ({args.dim}) must be divisible by --heads ({args.heads})")
    if args.warmup < 0:
        parser.error(f"--warmup must be non-negative, got {args.warmup}")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: this torch sees no CUDA device")
    if device.type == "cuda" and args.peak_tflops is None:
        parser.error("--peak-tflops is required on cuda (the GPU's dense BFloat16 peak, for MFU)")

    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.manual_seed(args.seed)
    model = Gpt(args.vocab, args.block, args.layers, args.heads, args.dim).to(device)
    optimizer = adamw(model, lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1)
    tokens = torch.randint(0, args.vocab, (args.batch, args.block + 1), device=device)
    inputs, targets = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

    def autocast():
        if args.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)

    def train_step():
        with autocast():
            loss = model(inputs, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(args.warmup):
        train_step()
    synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = train_step()
    final_loss = loss.item()
    synchronize()
    seconds = time.perf_counter() - start

    tokens_per_second = args.steps * args.batch * args.block / seconds
    flops_per_token = model.flops_per_token(args.block)
    result = {
        "impl": "pytorch", "device": str(device), "precision": args.precision, "tf32": args.tf32,
        "torch_version": torch.__version__, "layers": args.layers, "heads": args.heads, "dim": args.dim,
        "block": args.block, "vocab": args.vocab, "batch": args.batch, "warmup": args.warmup, "steps": args.steps,
        "seed": args.seed, "parameters": sum(p.numel() for p in model.parameters()), "flops_per_token": flops_per_token,
        "seconds": seconds, "step_ms": seconds / args.steps * 1e3, "tokens_per_second": tokens_per_second,
        "peak_tflops": args.peak_tflops,
        "mfu": None if args.peak_tflops is None else tokens_per_second * flops_per_token / (args.peak_tflops * 1e12),
        "final_loss": final_loss, "data": DATA,
    }
    print(json.dumps(result))
    if args.json:
        temporary = f"{args.json}.tmp{os.getpid()}"
        with open(temporary, "w") as f:
            json.dump(result, f, indent=2)
        os.replace(temporary, args.json)


if __name__ == "__main__":
    main()
