using System.Globalization;
using OrleansLm.Benchmarks;
using OrleansLm.Model.Torch;

// Usage: OrleansLm.Benchmarks <op-overhead|matmul> [--threads N] [--json] [--reps R] [--warmup W] [--warmup-ms T]
//        op-overhead: [--ops N] [--batch K]      matmul: [--size n]
// Same subcommands, options, method and JSON shape as bench/torch_peer.py.

BenchOptions? options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    options = null;
}
if (options is null)
{
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

// Sets libtorch's intra-op pool and OpenBLAS's GEMM pool (torch_peer.py sets both by hand); the
// report reads OpenBLAS's count back to show --threads reached the GEMMs.
LibTorch.NumThreads = options.Threads;
var blasThreads = OpenBlas.TryGetThreads();
LibTorch.ManualSeed(0);

var report = options.Command switch
{
    "op-overhead" => OpOverhead.Run(options),
    "matmul" => MatmulBench.Run(options),
    _ => throw new InvalidOperationException("unreachable"),
};
report.BlasThreads = blasThreads;

if (options.Json) Console.WriteLine(report.ToJson());
else report.PrintTable(Console.Out);
return 0;

internal sealed record BenchOptions(string Command, int Threads, bool Json, int Reps, int Warmup, int WarmupMs, int Ops, int Batch, int Size)
{
    public const string Usage =
        "usage: OrleansLm.Benchmarks <op-overhead|matmul> [--threads N=2] [--json] [--reps R] [--warmup W] [--warmup-ms T]\n" +
        "       (warm-up = at least W repetitions and at least T ms, per measured quantity)\n" +
        "       op-overhead: [--ops N=50000 ops per repetition] [--batch K=100 ops per dispose scope]\n" +
        "       matmul:      [--size n=1024]";

    public static BenchOptions? Parse(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("op-overhead" or "matmul")) return null;
        var command = args[0];
        int threads = 2, ops = 50_000, batch = 100, size = 1024;
        int? reps = null, warmup = null, warmupMs = null;
        var json = false;
        for (var i = 1; i < args.Length; i++)
        {
            int NextInt()
            {
                if (i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < 1)
                    throw new ArgumentException($"{args[i]} needs a positive integer");
                i++;
                return v;
            }

            switch (args[i])
            {
                case "--json": json = true; break;
                case "--threads": threads = NextInt(); break;
                case "--reps": reps = NextInt(); break;
                case "--warmup": warmup = NextInt(); break;
                case "--warmup-ms": warmupMs = NextInt(); break;
                case "--ops": ops = NextInt(); break;
                case "--batch": batch = NextInt(); break;
                case "--size": size = NextInt(); break;
                default: return null;
            }
        }
        return command == "matmul"
            ? new BenchOptions(command, threads, json, reps ?? 25, warmup ?? 3, warmupMs ?? 1000, ops, batch, size)
            : new BenchOptions(command, threads, json, reps ?? 11, warmup ?? 5, warmupMs ?? 300, ops, batch, size);
    }
}
