using System.Diagnostics;
using OrleansLm.Model.Torch;

namespace OrleansLm.Benchmarks;

/// <summary>
/// n×n float32 C = A @ B with A and B requiring grad: forward; forward + C.Backward(G) with a
/// materialised ones gradient G (the headline: what a layer inside a network sees); and forward +
/// C.Sum().Backward(), whose gradient reaches the GEMMs as a stride-0 expanded tensor (libtorch's
/// GEMMs are markedly slower on it).
/// FLOPs counted: forward 2n³ (the GEMM); backward 2·2n³ (dA = G Bᵀ and dB = Aᵀ G);
/// the O(n²) sum, gradient expansion and gradient allocation are timed but not counted.
/// One sample = one iteration; GFLOP/s = counted FLOPs / that iteration's wall time.
/// </summary>
internal static class MatmulBench
{
    public static Report Run(BenchOptions o)
    {
        long n = o.Size;
        var forwardFlops = 2.0 * n * n * n;
        var trainFlops = 3 * forwardFlops;
        var report = new Report("matmul", o.Threads, new Dictionary<string, object>
        {
            ["n"] = n,
            ["dtype"] = "float32",
            ["reps"] = o.Reps,
            ["warmup"] = o.Warmup,
            ["warmup_ms"] = o.WarmupMs,
            ["fwd_flops"] = forwardFlops,
            ["fwd_bwd_flops"] = trainFlops,
            ["flop_count"] = "fwd 2n^3; bwd 2*2n^3 (grads of A and B); sum/expand/grad alloc timed, not counted",
        });

        using var a = Tensor.Randn([n, n], requiresGrad: true);
        using var b = Tensor.Randn([n, n], requiresGrad: true);
        CheckGradient(a, b);

        var forwardMs = Sample(o, () =>
        {
            using var scope = DisposeScope.Enter();
            a.Matmul(b);
        });
        using var ones = Tensor.Ones([n, n]);
        var trainMs = Sample(o, () =>
        {
            using (DisposeScope.Enter()) a.Matmul(b).Backward(ones);
            a.ZeroGrad();
            b.ZeroGrad();
        });
        var sumTrainMs = Sample(o, () =>
        {
            using (DisposeScope.Enter()) a.Matmul(b).Sum().Backward();
            a.ZeroGrad();
            b.ZeroGrad();
        });

        report.Add(new Measurement("fwd_bwd_gflops", "GFLOP/s", "C = A@B; C.Backward(ones); grads set to none — 6n^3 FLOPs",
            trainMs.Select(ms => trainFlops / (ms * 1e6)).ToArray()));
        report.Add(new Measurement("fwd_gflops", "GFLOP/s", "C = A@B (inputs require grad) — 2n^3 FLOPs",
            forwardMs.Select(ms => forwardFlops / (ms * 1e6)).ToArray()));
        report.Add(new Measurement("fwd_sumbwd_gflops", "GFLOP/s", "C = A@B; C.Sum().Backward() (stride-0 expanded gradient); grads set to none — 6n^3 FLOPs",
            sumTrainMs.Select(ms => trainFlops / (ms * 1e6)).ToArray()));
        report.Add(new Measurement("fwd_bwd_ms", "ms", "wall time of one forward + Backward(ones) iteration", trainMs));
        report.Add(new Measurement("fwd_ms", "ms", "wall time of one forward matmul", forwardMs));
        report.Add(new Measurement("fwd_sumbwd_ms", "ms", "wall time of one forward + Sum().Backward() iteration", sumTrainMs));
        return report;
    }

    private static double[] Sample(BenchOptions o, Action iteration)
    {
        // At least o.Warmup iterations and at least o.WarmupMs: lets tiered JIT finish (its background
        // compiles would otherwise steal one of the two cores from the GEMM in the first samples).
        var warmupStart = Stopwatch.GetTimestamp();
        for (var i = 0; i < o.Warmup || Stopwatch.GetElapsedTime(warmupStart).TotalMilliseconds < o.WarmupMs; i++) iteration();
        var ms = new double[o.Reps];
        for (var i = 0; i < o.Reps; i++)
        {
            var start = Stopwatch.GetTimestamp();
            iteration();
            ms[i] = (Stopwatch.GetTimestamp() - start) * 1e3 / Stopwatch.Frequency;
        }
        return ms;
    }

    /// <summary>d(sum(A B))/dA[i, k] = Σ_j B[k, j]: check one entry so the timed backward is known to be real.</summary>
    private static void CheckGradient(Tensor a, Tensor b)
    {
        using (DisposeScope.Enter())
        {
            a.Matmul(b).Sum().Backward();
            var grad = a.Grad ?? throw new InvalidOperationException("backward produced no gradient for A");
            var got = grad.Select(0, 0).Select(0, 0).ToDouble();
            var expected = b.Select(0, 0).Sum().ToDouble();
            if (Math.Abs(got - expected) > 1e-3 * Math.Max(1, Math.Abs(expected)))
                throw new InvalidOperationException($"gradient check failed: dA[0,0] = {got}, expected {expected}");
            if (b.Grad is null) throw new InvalidOperationException("backward produced no gradient for B");
        }
        a.ZeroGrad();
        b.ZeroGrad();
    }
}
