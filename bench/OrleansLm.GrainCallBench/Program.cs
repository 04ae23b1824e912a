using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansLm.Bench;
using OrleansLm.Runtime;
using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Invocation;
using OrleansLm.Runtime.Transport;

// Usage: OrleansLm.GrainCallBench [--calls 20000] [--reps 5] [--concurrency 64] [--seconds 1] [--warmup-ms 1000] [--json PATH]
// Two ClusterSilos in this process on 127.0.0.1 (one in-memory membership table, a cluster secret); the first calls an
// echo grain living on itself and on the other silo. Beside them, a raw loopback TCP ping-pong and a bare
// TcpSiloTransport pair carry the bytes of the same call. Each repetition measures every path in turn, so drift in
// the machine's load hits all alike; the table shows medians over the repetitions. --json also writes each
// repetition's values to PATH.

const string Usage =
    "usage: OrleansLm.GrainCallBench [--calls N=20000 (sequential calls per path and repetition)] [--reps R=5]\n" +
    "                                [--concurrency C=64 (callers, each on its own grain or socket pair)] [--seconds S=1 (per throughput run)]\n" +
    "                                [--warmup-ms T=1000 (per path)] [--json PATH]";

var options = BenchArguments.Parse(args, new Dictionary<string, int>
{
    ["--calls"] = 20_000, ["--reps"] = 5, ["--concurrency"] = 64, ["--seconds"] = 1, ["--warmup-ms"] = 1000,
});
if (options is null)
{
    Console.Error.WriteLine(Usage);
    return 2;
}
var calls = options["--calls"];
var reps = options["--reps"];
var concurrency = options["--concurrency"];
var duration = TimeSpan.FromSeconds(options["--seconds"]);
var warmUp = TimeSpan.FromMilliseconds(options["--warmup-ms"]);
var timeout = TimeSpan.FromSeconds(30);

await using var silos = await EchoSilos.StartAsync();
var (caller, host) = (silos.Caller, silos.Host);

// A cross-silo call with the grain's directory entry on the caller and one with it on the host are measured apart,
// on grains chosen by the owner of their entry.
var entriesOnCaller = silos.KeysWithDirectoryEntryOn(caller, concurrency, firstKey: concurrency);
var entriesOnHost = silos.KeysWithDirectoryEntryOn(host, concurrency, firstKey: concurrency);
var sameSilo = await silos.ActivateAsync(caller, [.. Enumerable.Range(0, concurrency).Select(key => (long)key)]);
var crossDirectoryOnCaller = await silos.ActivateAsync(host, entriesOnCaller);
var crossDirectoryOnHost = await silos.ActivateAsync(host, entriesOnHost);

// The baselines carry the bytes a cross-silo Echo call and its answer take on the wire.
var echo = GrainInterface.Of(typeof(IEchoGrain)).GetMethod(typeof(IEchoGrain).GetMethod(nameof(IEchoGrain.Echo))!);
var codec = caller.Runtime.Codec;
var sampleCall = new GrainCall(GrainId.Create(typeof(IEchoGrain), entriesOnCaller[0]), echo, [1], default, timeout);
var request = codec.EncodeRequest(sampleCall, [(byte)ClusterMessageKind.GrainCall]).ToArray();
var response = codec.EncodeResult(echo, 1).ToArray();
var rawPairs = await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => RawTcp.ConnectAsync(request.Length, null, response.Length)));
var transportOptions = new TransportOptions { ClusterSecret = EchoSilos.Secret };
await using var server = new TcpSiloTransport(transportOptions);
await server.StartAsync(new FixedAnswer(response), CancellationToken.None);
await using var client = new TcpSiloTransport(transportOptions);
await client.StartAsync(new FixedAnswer(response), CancellationToken.None);

CallPath[] paths =
[
    new("raw_tcp", "raw loopback TCP", "a socket pair per caller, the same bytes as a cross-silo call",
        index => rawPairs[index].SendAsync(request)),
    new("silo_transport", "TcpSiloTransport alone", "one connection, calls multiplexed, the same bytes",
        _ => client.SendAsync(server.LocalAddress, request, timeout, CancellationToken.None)),
    new("same_silo", "grain call, same silo", "the grain lives on the calling silo",
        index => sameSilo[index].Echo(index)),
    new("cross_silo_directory_on_caller", "grain call, cross silo, entry on caller", "the other silo hosts the grain, the caller owns its directory entry",
        index => crossDirectoryOnCaller[index].Echo(index)),
    new("cross_silo_directory_on_host", "grain call, cross silo, entry on host", "the other silo hosts the grain and owns its directory entry",
        index => crossDirectoryOnHost[index].Echo(index)),
];

// Tiered JIT compiles the hot paths in the background after their first calls; warm-up runs past that.
foreach (var path in paths)
{
    await Samples.ThroughputAsync(concurrency, warmUp / 2, path.Call);
    var clock = Stopwatch.StartNew();
    while (clock.Elapsed < warmUp / 2) await path.Call(0);
}

var measured = paths.Select(_ => new List<Measurement>()).ToArray();
var codecMicroseconds = new List<double>();
CodecMicroseconds(calls / 10);
for (var rep = 0; rep < reps; rep++)
{
    for (var i = 0; i < paths.Length; i++)
    {
        var before = CallCounters.Now();
        var latencies = await Samples.SequentialMicrosecondsAsync(calls, () => paths[i].Call(0));
        var sequential = CallCounters.Now().Since(before, calls);
        before = CallCounters.Now();
        var throughput = await Samples.ThroughputAsync(concurrency, duration, paths[i].Call);
        var concurrent = CallCounters.Now().Since(before, throughput.Calls);
        measured[i].Add(new Measurement(Samples.Percentile(latencies, 0.50), Samples.Percentile(latencies, 0.99), throughput.PerSecond, sequential, concurrent));
    }
    codecMicroseconds.Add(CodecMicroseconds(calls));
}
foreach (var raw in rawPairs) await raw.DisposeAsync();

var medians = measured.Select(Measurement.MedianOf).ToArray();
var rawMedian = medians[0];
var codecMedian = Samples.Median(codecMicroseconds);

Console.WriteLine(Invariant($"grain call round trip on loopback, 2 ClusterSilos in one process: request {request.Length} B, response {response.Length} B"));
Console.WriteLine(Invariant($"per path {calls} sequential calls and {concurrency} callers for {duration.TotalSeconds:0.#} s; medians of {reps} repetitions"));
Console.WriteLine(Invariant($"{"path",-42} {"p50 us",8} {"p99 us",8} {"calls/s",10} {"p50 / raw",10} {"calls/s / raw",14}"));
foreach (var (path, m) in paths.Zip(medians))
    Console.WriteLine(Invariant($"{path.Title,-42} {m.P50,8:F1} {m.P99,8:F1} {m.CallsPerSecond,10:N0} {m.P50 / rawMedian.P50,10:F2} {m.CallsPerSecond / rawMedian.CallsPerSecond,14:F2}"));
Console.WriteLine();
Console.WriteLine(Invariant($"{"per call: sequential | " + concurrency + " callers",-42} {"pool items",10} {"alloc B",8} {"TCP segs",8} | {"pool items",10} {"alloc B",8} {"TCP segs",8}"));
foreach (var (path, m) in paths.Zip(medians))
    Console.WriteLine(Invariant($"{path.Title,-42} {Columns(m.Sequential)} | {Columns(m.Concurrent)}"));
Console.WriteLine(Invariant($"codec: one Echo call's request and response encoded and decoded: {codecMedian:F2} us"));

if (options.JsonPath is { } jsonPath)
{
    var results = paths.Zip(medians).SelectMany(p => new BenchResult[]
    {
        new($"{p.First.Name}_p50", "us", p.Second.P50, $"{p.First.Description}; sequential, {calls} calls"),
        new($"{p.First.Name}_p99", "us", p.Second.P99, "same calls"),
        new($"{p.First.Name}_calls_per_s", "calls/s", p.Second.CallsPerSecond, $"{concurrency} callers for {duration.TotalSeconds:0.#} s"),
        new($"{p.First.Name}_p50_vs_raw", "x", p.Second.P50 / rawMedian.P50, "p50 / raw TCP p50"),
        new($"{p.First.Name}_calls_per_s_vs_raw", "x", p.Second.CallsPerSecond / rawMedian.CallsPerSecond, "calls/s / raw TCP calls/s"),
    }).Append(new BenchResult("codec_request_and_response", "us", codecMedian, "one Echo call's request and response encoded and decoded"));
    await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(new
    {
        benchmark = "grain_calls",
        config = new { calls, reps, concurrency, seconds = duration.TotalSeconds, warmup_ms = warmUp.TotalMilliseconds, request_bytes = request.Length, response_bytes = response.Length },
        results = results.Select(r => r.ToJson()),
        repetitions = paths.Zip(measured).ToDictionary(p => p.First.Name, p => p.Second),
        codec_us = codecMicroseconds.Select(v => Math.Round(v, 3)),
    }, new JsonSerializerOptions
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    }));
}
return 0;

// µs per Echo call for encoding its request (as the sender does), decoding it (the host), encoding the result (the
// host) and decoding that (the sender), over `count` calls.
double CodecMicroseconds(int count)
{
    var start = Stopwatch.GetTimestamp();
    for (var i = 0; i < count; i++)
    {
        var encoded = codec.EncodeRequest(sampleCall, [(byte)ClusterMessageKind.GrainCall]);
        var decoded = codec.DecodeRequest(encoded.Span[1..], CancellationToken.None);
        var result = codec.EncodeResult(echo, decoded.Arguments[0]);
        if (codec.DecodeResponse(echo, result.Span) is not 1) throw new InvalidOperationException("the codec round trip changed the echoed value");
    }
    return Stopwatch.GetElapsedTime(start).TotalMicroseconds / count;
}

static string Columns(PerCall c) => Invariant($"{c.WorkItems,10:F2} {c.AllocatedBytes,8:F0} {c.TcpSegments,8:F2}");

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

/// <summary>A way to make the small call: <see cref="Call"/> takes the caller's index, so concurrent callers each have a target of their own.</summary>
internal sealed record CallPath(string Name, string Title, string Description, Func<int, Task> Call);

/// <summary>One path in one repetition: sequential p50 and p99 in µs, calls/s with many callers, and the counters per call of each run.</summary>
internal sealed record Measurement(double P50, double P99, double CallsPerSecond, PerCall Sequential, PerCall Concurrent)
{
    /// <summary>The median of each value on its own.</summary>
    public static Measurement MedianOf(IReadOnlyList<Measurement> reps)
    {
        double Median(Func<Measurement, double> value) => Samples.Median(reps.Select(value).ToArray());
        return new Measurement(Median(m => m.P50), Median(m => m.P99), Median(m => m.CallsPerSecond),
            new PerCall(Median(m => m.Sequential.WorkItems), Median(m => m.Sequential.AllocatedBytes), Median(m => m.Sequential.TcpSegments)),
            new PerCall(Median(m => m.Concurrent.WorkItems), Median(m => m.Concurrent.AllocatedBytes), Median(m => m.Concurrent.TcpSegments)));
    }
}
