#!/usr/bin/python3
"""PyTorch peer of bench/OrleansLm.Benchmarks: the same two measurements, method and JSON shape.

Run it with Debian's interpreter, which has python3-torch 1.13 (the `python3` on PATH may be a
pyenv without torch):

    /usr/bin/python3 bench/torch_peer.py <op-overhead|matmul> [--threads N=2] [--json] [--reps R]
        [--warmup W] [--warmup-ms T]   (warm-up: at least W reps and at least T ms per quantity)
        op-overhead: [--ops N=50000] [--batch K=100]      matmul: [--size n=1024]

op-overhead: ns per call of a.add(b) / a.neg() on one-element float32 tensors, results kept in a
list that is dropped every K ops (the analogue of a DisposeScope per batch), median over reps after
warm-up. Python's numbers include the interpreter (loop, attribute lookup, argument parsing);
`loop_append` measures the loop + list append alone so it can be subtracted.

matmul: n x n float32 C = A @ B with A, B requiring grad: forward; forward + C.backward(G) with a
materialised ones gradient G (the headline); forward + C.sum().backward() (the gradient reaches the
GEMMs as a stride-0 expanded tensor, on which libtorch's GEMMs are markedly slower).
FLOPs counted: forward 2n^3, backward 2*2n^3 (grads of A and B); the O(n^2) sum, gradient expansion
and gradient allocation are timed but not counted. One sample = one iteration.
"""

import argparse
import ctypes
import json
import statistics
import sys
import time

import torch

perf_ns = time.perf_counter_ns


def set_blas_threads(threads):
    """Debian's libtorch calls sgemm from the pthread OpenBLAS, whose pool ignores torch.set_num_threads."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_set_num_threads(ctypes.c_int(threads))
        return int(lib.openblas_get_num_threads())
    except (OSError, AttributeError):
        return None


def measurement(name, unit, description, samples):
    return {
        "name": name,
        "unit": unit,
        "median": round(statistics.median(samples), 3),
        "min": round(min(samples), 3),
        "max": round(max(samples), 3),
        "samples": [round(s, 3) for s in samples],
        "description": description,
    }


def warm_up(once, warmup, warmup_ms):
    """At least `warmup` calls and at least `warmup_ms` milliseconds (same rule as the C# side)."""
    start = perf_ns()
    done = 0
    while done < warmup or (perf_ns() - start) / 1e6 < warmup_ms:
        once()
        done += 1


def measure(name, description, once, warmup, warmup_ms, reps, unit="ns/op"):
    warm_up(once, warmup, warmup_ms)
    return measurement(name, unit, description, [once() for _ in range(reps)])


# ---- op-overhead ----
# Each loop is spelled out rather than shared through a helper taking a lambda: the lambda call would
# add itself to every measured op.

def bench_dim(a, ops):
    acc = 0
    start = perf_ns()
    for _ in range(ops):
        acc += a.dim()
    return (perf_ns() - start) / ops


def bench_add(a, b, ops, k):
    start = perf_ns()
    for _ in range(ops // k):
        out = []
        keep = out.append
        for _ in range(k):
            keep(a.add(b))
        del out, keep  # frees the batch, like the end of a DisposeScope
    return (perf_ns() - start) / ops


def bench_neg(a, ops, k):
    start = perf_ns()
    for _ in range(ops // k):
        out = []
        keep = out.append
        for _ in range(k):
            keep(a.neg())
        del out, keep
    return (perf_ns() - start) / ops


def bench_add_operator(a, b, ops, k):
    start = perf_ns()
    for _ in range(ops // k):
        out = []
        keep = out.append
        for _ in range(k):
            keep(a + b)
        del out, keep
    return (perf_ns() - start) / ops


def bench_add_no_keep(a, b, ops):
    start = perf_ns()
    for _ in range(ops):
        a.add(b)  # result freed at once (refcount)
    return (perf_ns() - start) / ops


def bench_loop_append(a, ops, k):
    start = perf_ns()
    for _ in range(ops // k):
        out = []
        keep = out.append
        for _ in range(k):
            keep(a)
        del out, keep
    return (perf_ns() - start) / ops


def op_overhead(args):
    k = args.batch
    ops = max(k, args.ops // k * k)
    a = torch.tensor([1.5], dtype=torch.float32)
    b = torch.tensor([2.5], dtype=torch.float32)
    w, r = (args.warmup, args.warmup_ms), args.reps
    results = [
        measure("native_call_dim", "a.dim(): one call into C++, no allocation", lambda: bench_dim(a, ops), *w, r),
        measure("add", f"a.add(b), results kept in a list dropped every {k} ops", lambda: bench_add(a, b, ops, k), *w, r),
        measure("neg", f"a.neg(), results kept in a list dropped every {k} ops", lambda: bench_neg(a, ops, k), *w, r),
        measure("add_operator", f"a + b, results kept in a list dropped every {k} ops", lambda: bench_add_operator(a, b, ops, k), *w, r),
        measure("add_no_keep", "a.add(b), result freed at once", lambda: bench_add_no_keep(a, b, ops), *w, r),
        measure("loop_append", "the Python loop + list append alone (interpreter floor of the rows above)",
                lambda: bench_loop_append(a, ops, k), *w, r),
    ]
    config = {"ops_per_rep": ops, "batch": k, "reps": r, "warmup": args.warmup, "warmup_ms": args.warmup_ms,
              "dtype": "float32", "numel": 1}
    return config, results


# ---- matmul ----

def matmul(args):
    n = args.size
    fwd_flops = 2.0 * n * n * n
    train_flops = 3 * fwd_flops
    a = torch.randn(n, n, dtype=torch.float32, requires_grad=True)
    b = torch.randn(n, n, dtype=torch.float32, requires_grad=True)

    # d(sum(A B))/dA[i, k] = sum_j B[k, j]: check one entry so the timed backward is known to be real.
    (a @ b).sum().backward()
    got, expected = a.grad[0, 0].item(), b[0].sum().item()
    if abs(got - expected) > 1e-3 * max(1.0, abs(expected)) or b.grad is None:
        raise RuntimeError(f"gradient check failed: dA[0,0] = {got}, expected {expected}")
    a.grad = None
    b.grad = None

    def forward():
        c = a @ b
        del c

    ones = torch.ones(n, n, dtype=torch.float32)

    def train():
        (a @ b).backward(ones)
        a.grad = None
        b.grad = None

    def sum_train():
        (a @ b).sum().backward()
        a.grad = None
        b.grad = None

    def sample(iteration):
        warm_up(iteration, args.warmup, args.warmup_ms)
        ms = []
        for _ in range(args.reps):
            start = perf_ns()
            iteration()
            ms.append((perf_ns() - start) / 1e6)
        return ms

    fwd_ms = sample(forward)
    train_ms = sample(train)
    sum_train_ms = sample(sum_train)
    results = [
        measurement("fwd_bwd_gflops", "GFLOP/s", "C = A@B; C.backward(ones); grads set to None — 6n^3 FLOPs",
                    [train_flops / (ms * 1e6) for ms in train_ms]),
        measurement("fwd_gflops", "GFLOP/s", "C = A@B (inputs require grad) — 2n^3 FLOPs",
                    [fwd_flops / (ms * 1e6) for ms in fwd_ms]),
        measurement("fwd_sumbwd_gflops", "GFLOP/s",
                    "C = A@B; C.sum().backward() (stride-0 expanded gradient); grads set to None — 6n^3 FLOPs",
                    [train_flops / (ms * 1e6) for ms in sum_train_ms]),
        measurement("fwd_bwd_ms", "ms", "wall time of one forward + backward(ones) iteration", train_ms),
        measurement("fwd_ms", "ms", "wall time of one forward matmul", fwd_ms),
        measurement("fwd_sumbwd_ms", "ms", "wall time of one forward + sum().backward() iteration", sum_train_ms),
    ]
    config = {
        "n": n, "dtype": "float32", "reps": args.reps, "warmup": args.warmup, "warmup_ms": args.warmup_ms,
        "fwd_flops": fwd_flops, "fwd_bwd_flops": train_flops,
        "flop_count": "fwd 2n^3; bwd 2*2n^3 (grads of A and B); sum/expand/grad alloc timed, not counted",
    }
    return config, results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["op-overhead", "matmul"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--reps", type=int)
    parser.add_argument("--warmup", type=int)
    parser.add_argument("--warmup-ms", type=int)
    parser.add_argument("--ops", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    if args.reps is None:
        args.reps = 25 if args.command == "matmul" else 11
    if args.warmup is None:
        args.warmup = 3 if args.command == "matmul" else 5
    if args.warmup_ms is None:
        args.warmup_ms = 1000 if args.command == "matmul" else 300

    torch.set_num_threads(args.threads)
    blas_threads = set_blas_threads(args.threads)
    torch.manual_seed(0)

    config, results = (matmul if args.command == "matmul" else op_overhead)(args)
    report = {
        "impl": "pytorch",
        "benchmark": args.command,
        "torch_version": torch.__version__,
        "threads": args.threads,
        "blas_threads": blas_threads,
        "config": config,
        "results": results,
    }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    print(f"pytorch {args.command}  torch {torch.__version__}  threads={args.threads} blas_threads={blas_threads}  "
          + " ".join(f"{key}={value}" for key, value in config.items()))
    print(f"{'name':<28} {'median':>10} {'min':>10} {'max':>10}  unit")
    for m in results:
        print(f"{m['name']:<28} {m['median']:>10.1f} {m['min']:>10.1f} {m['max']:>10.1f}  {m['unit']:<8} {m['description']}")


if __name__ == "__main__":
    sys.exit(main())
