using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using OrleansLm.Runtime;
using OrleansLm.Runtime.Benchmarks;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Hosting;
using OrleansLm.Runtime.Invocation;

// Usage: OrleansLm.Runtime.Benchmarks [--calls N] [--reps R]
// Cost of one awaited grain call through each layer, median ns/call over R repetitions of N sequential calls
// (after at least 0.5 s of warm-up each), then the codec on a 64 MB float[].
var calls = Option("--calls", 200_000);
var reps = Option("--reps", 9);

var grainObject = new CalculatorGrain();
ICalculatorGrain direct = grainObject;
var id = GrainId.Create(typeof(ICalculatorGrain), 1);
var add = GrainInterface.Of(typeof(ICalculatorGrain)).GetMethod(typeof(ICalculatorGrain).GetMethod(nameof(ICalculatorGrain.Add))!);
// Both proxies hand their calls to the same router, which runs the method on the grain object at once, so the two
// differ only in how the interface call becomes a GrainCall: generated-style code vs DispatchProxy.
var outgoing = new OutgoingCalls(new InlineRouter(grainObject), [], TimeSpan.FromSeconds(30), TimeProvider.System);
ICalculatorGrain handWritten = new HandWrittenCalculatorProxy(outgoing, id, add);
var dispatchProxy = new GrainFactory(outgoing).GetGrain<ICalculatorGrain>(1);

var services = new ServiceCollection();
services.AddGrainRuntime().AddGrain<ICalculatorGrain, CalculatorGrain>();
await using var provider = services.BuildServiceProvider();
var runtime = provider.GetRequiredService<SiloRuntime>();
await runtime.StartAsync(CancellationToken.None);
var throughRuntime = runtime.GrainFactory.GetGrain<ICalculatorGrain>(1);

Console.WriteLine($"grain call cost, ns/call (median of {reps} x {calls:N0} sequential awaited calls; min..max); {Environment.ProcessorCount} cores, .NET {Environment.Version}");
Report("a. direct interface call on the grain object", await MeasureAsync(direct, calls, reps));
Report("b. hand-written proxy (what a source generator emits)", await MeasureAsync(handWritten, calls, reps));
Report("c. DispatchProxy GrainReference", await MeasureAsync(dispatchProxy, calls, reps));
Report("d. full local call through the silo runtime", await MeasureAsync(throughRuntime, calls / 10, reps));
Report("d'. same, 64 callers on 64 grains (ns per call of total)", await MeasureConcurrentAsync(runtime.GrainFactory, 64, calls / 10, reps));
await runtime.StopAsync(CancellationToken.None);

var values = new float[16 * 1024 * 1024];
new Random(1).NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
var scale = GrainInterface.Of(typeof(ICodecBench)).Methods[0];
var codecSamples = Repeat(reps, () =>
{
    var watch = Stopwatch.StartNew();
    var request = runtime.Codec.EncodeRequest(new GrainCall(GrainId.Create(typeof(ICodecBench), "c"), scale, [values], default, TimeSpan.FromSeconds(30)));
    var decoded = runtime.Codec.DecodeRequest(request.Span, default);
    watch.Stop();
    GC.KeepAlive(decoded);
    return watch.Elapsed.TotalMilliseconds;
});
var median = Median(codecSamples);
Console.WriteLine($"{"e. codec: 64 MB float[] request encode + decode",-58} {median,10:F1} ms  ({2 * 64 / 1024.0 / (median / 1000):F1} GB/s copied)");
return 0;

int Option(string name, int fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length && int.TryParse(args[at + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;
}

// Warm-up runs for at least half a second, so the measured code is past tiered JIT's first tiers.
static async Task WarmUpAsync(Func<Task> once)
{
    var watch = Stopwatch.StartNew();
    while (watch.ElapsedMilliseconds < 500) await once();
}

static async Task<double[]> MeasureAsync(ICalculatorGrain grain, int calls, int reps)
{
    await WarmUpAsync(() => LoopAsync(grain, calls / 10));
    var samples = new double[reps];
    for (var r = 0; r < reps; r++)
    {
        var watch = Stopwatch.StartNew();
        await LoopAsync(grain, calls);
        samples[r] = watch.Elapsed.TotalNanoseconds / calls;
    }
    return samples;
}

static async Task LoopAsync(ICalculatorGrain grain, int calls)
{
    var sum = 0;
    for (var i = 0; i < calls; i++) sum = await grain.Add(sum & 0xff, 1);
    GC.KeepAlive(sum);
}

static async Task<double[]> MeasureConcurrentAsync(IGrainFactory grains, int callers, int calls, int reps)
{
    var targets = Enumerable.Range(0, callers).Select(i => grains.GetGrain<ICalculatorGrain>(1000 + i)).ToArray();
    await WarmUpAsync(() => Task.WhenAll(targets.Select(t => Task.Run(() => LoopAsync(t, calls / callers / 10 + 1)))));
    var samples = new double[reps];
    for (var r = 0; r < reps; r++)
    {
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(targets.Select(t => Task.Run(() => LoopAsync(t, calls / callers))));
        samples[r] = watch.Elapsed.TotalNanoseconds / (calls / callers * callers);
    }
    return samples;
}

static double[] Repeat(int reps, Func<double> once)
{
    once();
    return Enumerable.Range(0, reps).Select(_ => once()).ToArray();
}

static double Median(double[] samples)
{
    var sorted = samples.Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}

static void Report(string name, double[] samples) =>
    Console.WriteLine($"{name,-58} {Median(samples),10:F1} ns  ({samples.Min():F1}..{samples.Max():F1})");
