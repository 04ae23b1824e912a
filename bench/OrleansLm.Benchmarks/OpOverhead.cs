using System.Diagnostics;
using OrleansLm.Model.Torch;

namespace OrleansLm.Benchmarks;

/// <summary>
/// Per-op call cost from C# on one-element float32 tensors, the way a training loop calls ops: each
/// result is owned by a <see cref="DisposeScope"/> that is disposed every <c>batch</c> ops. Every
/// quantity is ns per op (or per call), the median over repetitions of <c>ops</c> calls each, after warm-up.
/// The breakdown rows isolate the pieces of one <c>a.Add(b)</c>: the P/Invoke transition, libtorch's
/// own cost (raw handles, no managed objects), SafeHandle creation and ref-counting, the scope.
/// </summary>
internal static class OpOverhead
{
    private static long sink;

    public static Report Run(BenchOptions o)
    {
        var k = o.Batch;
        var ops = Math.Max(k, o.Ops / k * k);
        var report = new Report("op-overhead", o.Threads, new Dictionary<string, object>
        {
            ["ops_per_rep"] = ops,
            ["batch"] = k,
            ["reps"] = o.Reps,
            ["warmup"] = o.Warmup,
            ["warmup_ms"] = o.WarmupMs,
            ["dtype"] = "float32",
            ["numel"] = 1,
        });

        // Created outside any scope: the caller owns them.
        if (DisposeScope.Current is not null) throw new InvalidOperationException("benchmark must start outside a dispose scope");
        using var a = Tensor.FromArray<float>(1.5f);
        using var b = Tensor.FromArray<float>(2.5f);
        var ha = a.DangerousGetHandle();
        var hb = b.DangerousGetHandle();
        var liveBefore = LibTorch.LiveTensorCount;

        Measurement M(string name, string description, Func<double> once, string unit = "ns/op") =>
            Measure(name, unit, description, o.Warmup, o.WarmupMs, o.Reps, once);

        // ---- headline rows (torch_peer.py reports the same names) ----
        report.Add(M("native_call_dim", "t.Dim: one SafeHandle-marshalled P/Invoke, no allocation", () => Dim(a, ops)));
        report.Add(M("add", $"a.Add(b), results owned by a DisposeScope disposed every {k} ops", () => AddScoped(a, b, ops, k)));
        report.Add(M("neg", $"a.Neg(), results owned by a DisposeScope disposed every {k} ops", () => NegScoped(a, ops, k)));

        // ---- breakdown (ours only) ----
        report.Add(M("raw_pinvoke_dim", "olm_dim on a raw IntPtr: the bare P/Invoke transition", () => RawDim(ha, ops)));
        report.Add(M("raw_pinvoke_dim_nogc", "olm_dim on a raw IntPtr with [SuppressGCTransition]", () => RawDimNoGc(ha, ops)));
        report.Add(M("raw_add_free", $"olm_binary + olm_free on raw IntPtrs (freed every {k}): libtorch + shim floor", () => RawAdd(ha, hb, ops, k)));
        report.Add(M("raw_neg_free", $"olm_unary + olm_free on raw IntPtrs (freed every {k}): libtorch + shim floor", () => RawNeg(ha, ops, k)));
        report.Add(M("raw_add_safehandle", $"raw_add_free plus one SafeHandle-derived object created/disposed per op (interleaved)", () => RawAddWithWrapper<SafeHandleWrappers>(ha, hb, ops, k)));
        report.Add(M("raw_add_plainobj", $"raw_add_free plus one plain (non-finalizable) object created/disposed per op (interleaved)", () => RawAddWithWrapper<PlainWrappers>(ha, hb, ops, k)));
        report.Add(M("raw_add_free_each", "olm_binary + olm_free on raw IntPtrs, freed at once", () => RawAdd(ha, hb, ops, 1)));
        report.Add(M("add_no_scope", "using var c = a.Add(b): no scope, disposed at once", () => AddNoScope(a, b, ops)));
        report.Add(M("add_array_batch", $"a.Add(b) kept in an array, disposed every {k} ops without a scope", () => AddArrayBatch(a, b, ops, k)));
        report.Add(M("add_scope_per_op", "a.Add(b) inside its own DisposeScope (batch = 1)", () => AddScoped(a, b, ops, 1)));
        report.Add(M("safehandle_create_dispose", "new SafeHandle subclass + Dispose, no native call", () => SafeHandleCreate(ops)));
        report.Add(M("safehandle_addref_release", "DangerousAddRef + DangerousRelease (the marshaller does this per tensor argument)", () => AddRefRelease(a, ops)));
        report.Add(M("asynclocal_read", "DisposeScope.Current (AsyncLocal read, done once per created tensor)", () => AsyncLocalRead(ops)));
        report.Add(M("scope_enter_dispose", "DisposeScope.Enter() + Dispose() with nothing in it (ns per scope)", () => EmptyScope(ops), "ns/scope"));

        if (LibTorch.LiveTensorCount != liveBefore)
            throw new InvalidOperationException($"leak: {LibTorch.LiveTensorCount - liveBefore} tensors still alive after the benchmark");
        GC.KeepAlive(sink);
        return report;
    }

    private static Measurement Measure(string name, string unit, string description, int warmup, int warmupMs, int reps, Func<double> once)
    {
        // At least `warmup` repetitions and at least `warmupMs`: lets tiered JIT finish (its background
        // compiles would otherwise steal one of the two cores from the first samples).
        var warmupStart = Stopwatch.GetTimestamp();
        for (var i = 0; i < warmup || Stopwatch.GetElapsedTime(warmupStart).TotalMilliseconds < warmupMs; i++) once();
        var samples = new double[reps];
        for (var i = 0; i < reps; i++) samples[i] = once();
        return new Measurement(name, unit, description, samples);
    }

    private static double NsPer(long start, long count) =>
        (Stopwatch.GetTimestamp() - start) * 1e9 / Stopwatch.Frequency / count;

    private static double Dim(Tensor a, int ops)
    {
        long acc = 0;
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < ops; i++) acc += a.Dim;
        var ns = NsPer(start, ops);
        sink += acc;
        return ns;
    }

    private static double AddScoped(Tensor a, Tensor b, int ops, int k)
    {
        var start = Stopwatch.GetTimestamp();
        for (var done = 0; done < ops; done += k)
        {
            using var scope = DisposeScope.Enter();
            for (var j = 0; j < k; j++) a.Add(b);
        }
        return NsPer(start, ops);
    }

    private static double NegScoped(Tensor a, int ops, int k)
    {
        var start = Stopwatch.GetTimestamp();
        for (var done = 0; done < ops; done += k)
        {
            using var scope = DisposeScope.Enter();
            for (var j = 0; j < k; j++) a.Neg();
        }
        return NsPer(start, ops);
    }

    private static double AddNoScope(Tensor a, Tensor b, int ops)
    {
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < ops; i++)
        {
            using var c = a.Add(b);
        }
        return NsPer(start, ops);
    }

    private static double AddArrayBatch(Tensor a, Tensor b, int ops, int k)
    {
        var results = new Tensor[k];
        var start = Stopwatch.GetTimestamp();
        for (var done = 0; done < ops; done += k)
        {
            for (var j = 0; j < k; j++) results[j] = a.Add(b);
            for (var j = k - 1; j >= 0; j--) results[j].Dispose();
        }
        return NsPer(start, ops);
    }

    private static double RawDim(IntPtr a, int ops)
    {
        long acc = 0;
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < ops; i++) acc += RawNative.Dim(a);
        var ns = NsPer(start, ops);
        sink += acc;
        return ns;
    }

    private static double RawDimNoGc(IntPtr a, int ops)
    {
        long acc = 0;
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < ops; i++) acc += RawNative.DimNoGcTransition(a);
        var ns = NsPer(start, ops);
        sink += acc;
        return ns;
    }

    private static double RawAdd(IntPtr a, IntPtr b, int ops, int k)
    {
        var results = new IntPtr[k];
        var start = Stopwatch.GetTimestamp();
        for (var done = 0; done < ops; done += k)
        {
            for (var j = 0; j < k; j++) results[j] = RawNative.Binary(RawNative.OpAdd, a, b, 1);
            for (var j = k - 1; j >= 0; j--) RawNative.Free(results[j]);
        }
        return NsPer(start, ops);
    }

    // The wrapper type is a struct type argument, so the JIT specialises the loop: no call is added per op.
    private interface IWrapperFactory
    {
        IDisposable Create();
    }

    private readonly struct SafeHandleWrappers : IWrapperFactory
    {
        public IDisposable Create() => new DummyHandle();
    }

    private readonly struct PlainWrappers : IWrapperFactory
    {
        public IDisposable Create() => new PlainWrapper();
    }

    private static double RawAddWithWrapper<TWrappers>(IntPtr a, IntPtr b, int ops, int k) where TWrappers : struct, IWrapperFactory
    {
        var results = new IntPtr[k];
        var wrappers = new IDisposable[k];
        var start = Stopwatch.GetTimestamp();
        for (var done = 0; done < ops; done += k)
        {
            for (var j = 0; j < k; j++)
            {
                results[j] = RawNative.Binary(RawNative.OpAdd, a, b, 1);
                wrappers[j] = default(TWrappers).Create();
            }
            for (var j = k - 1; j >= 0; j--)
            {
                wrappers[j].Dispose();
                RawNative.Free(results[j]);
            }
        }
        return NsPer(start, ops);
    }

    private static double RawNeg(IntPtr a, int ops, int k)
    {
        var results = new IntPtr[k];
        var start = Stopwatch.GetTimestamp();
        for (var done = 0; done < ops; done += k)
        {
            for (var j = 0; j < k; j++) results[j] = RawNative.Unary(RawNative.OpNeg, a, 0);
            for (var j = k - 1; j >= 0; j--) RawNative.Free(results[j]);
        }
        return NsPer(start, ops);
    }

    private static double SafeHandleCreate(int ops)
    {
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < ops; i++)
        {
            using var h = new DummyHandle();
        }
        return NsPer(start, ops);
    }

    private static double AddRefRelease(Tensor a, int ops)
    {
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < ops; i++)
        {
            var added = false;
            a.DangerousAddRef(ref added);
            if (added) a.DangerousRelease();
        }
        return NsPer(start, ops);
    }

    private static double AsyncLocalRead(int ops)
    {
        long acc = 0;
        using var scope = DisposeScope.Enter(); // a scope is current, as in a training step
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < ops; i++)
            if (DisposeScope.Current is not null) acc++;
        var ns = NsPer(start, ops);
        sink += acc;
        return ns;
    }

    private static double EmptyScope(int ops)
    {
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < ops; i++)
        {
            using var scope = DisposeScope.Enter();
        }
        return NsPer(start, ops);
    }
}
