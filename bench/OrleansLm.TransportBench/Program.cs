using System.Diagnostics;
using System.Text.Json;
using OrleansLm.Bench;
using OrleansLm.Runtime.Transport;

// Usage: OrleansLm.TransportBench [--size-mb 64] [--reps 15] [--warmup 5] [--warmup-ms 4000] [--calls 20000] [--concurrency 64] [--seconds 3]
//                                 [--chunk-kb 64] [--socket-buffer-kb 0] [--json PATH]
// Two TcpSiloTransports in this process on 127.0.0.1, and a raw socket pair for the baseline. Prints a table;
// --json also writes the results and the per-repetition bandwidth samples to PATH.

var options = BenchOptions.Parse(args);
if (options is null)
{
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

var payload = new byte[options.SizeMb * 1024 * 1024];
new Random(1).NextBytes(payload);
byte[] one = [1];
var small = new byte[32];

var transportOptions = new TransportOptions
{
    ClusterSecret = "bench",
    MaxChunkSize = options.ChunkKb * 1024,
    SocketBufferSize = options.SocketBufferKb * 1024 is var bytes && bytes > 0 ? bytes : null,
};
await using var server = new TcpSiloTransport(transportOptions);
await server.StartAsync(new FixedAnswer(one), CancellationToken.None);
await using var client = new TcpSiloTransport(transportOptions);
await client.StartAsync(new FixedAnswer(one), CancellationToken.None);
await using var raw = await RawTcp.ConnectAsync(payload.Length, transportOptions.SocketBufferSize);
var target = server.LocalAddress;
var timeout = TimeSpan.FromMinutes(1);

// Bandwidth: raw and transport alternate within each repetition, so drift in the machine's load hits both alike.
// Warm-up runs until both the repetitions and the time are reached: the transport's loops are JIT-compiled in tiers
// and reach full speed only after a few seconds of traffic.
var rawMbps = new List<double>();
var transportMbps = new List<double>();
var warmup = Stopwatch.StartNew();
for (var warm = 0; warm < options.Warmup || warmup.ElapsedMilliseconds < options.WarmupMs; warm++)
{
    await raw.SendAsync(payload);
    await client.SendAsync(target, payload, timeout, CancellationToken.None);
}
for (var rep = 0; rep < options.Reps; rep++)
{
    var rawSeconds = await Samples.TimeAsync(() => raw.SendAsync(payload));
    var transportSeconds = await Samples.TimeAsync(() => client.SendAsync(target, payload, timeout, CancellationToken.None));
    rawMbps.Add(payload.Length / 1e6 / rawSeconds);
    transportMbps.Add(payload.Length / 1e6 / transportSeconds);
}

// Small-call round trips, one at a time.
for (var i = 0; i < options.Calls / 10; i++) await client.SendAsync(target, small, timeout, CancellationToken.None);
var latencies = await Samples.SequentialMicrosecondsAsync(options.Calls, () => client.SendAsync(target, small, timeout, CancellationToken.None));

// Small-call throughput with many calls in flight.
var callsPerSecond = (await Samples.ThroughputAsync(options.Concurrency, TimeSpan.FromSeconds(options.Seconds),
    _ => client.SendAsync(target, small, timeout, CancellationToken.None))).PerSecond;

// Small-call round trips while big payloads stream over the same connection (what chunking is for).
var underLoad = new List<double>();
using (var stop = new CancellationTokenSource())
{
    var streaming = Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested) await client.SendAsync(target, payload, timeout, CancellationToken.None);
    });
    while (underLoad.Count < Math.Max(200, options.Calls / 20))
        underLoad.Add(await Samples.TimeAsync(() => client.SendAsync(target, small, timeout, CancellationToken.None)) * 1e6);
    await stop.CancelAsync();
    await streaming;
}

BenchResult[] results =
[
    new("raw_tcp_bandwidth", "MB/s", Samples.Median(rawMbps), $"{options.SizeMb} MB over a plain loopback socket pair, median of {options.Reps}"),
    new("transport_bandwidth", "MB/s", Samples.Median(transportMbps), $"{options.SizeMb} MB request through TcpSiloTransport, median of {options.Reps}"),
    new("bandwidth_ratio", "x", Samples.Median(transportMbps) / Samples.Median(rawMbps), "transport / raw (goal >= 0.7)"),
    new("small_call_p50", "us", Samples.Percentile(latencies, 0.50), $"{small.Length} B request, 1 B answer, sequential, {options.Calls} calls"),
    new("small_call_p99", "us", Samples.Percentile(latencies, 0.99), "same calls"),
    new("small_calls_per_s", "calls/s", callsPerSecond, $"{options.Concurrency} calls in flight for {options.Seconds} s"),
    new("small_call_p50_under_load", "us", Samples.Percentile(underLoad, 0.50), $"sequential small calls while {options.SizeMb} MB calls stream on the same connection"),
    new("small_call_p99_under_load", "us", Samples.Percentile(underLoad, 0.99), "same calls"),
];

Console.WriteLine($"transport benchmark  size={options.SizeMb} MB  chunk={options.ChunkKb} KiB  " +
                  $"socket buffers={(options.SocketBufferKb > 0 ? $"{options.SocketBufferKb} KiB" : "OS default")}  reps={options.Reps}");
foreach (var result in results) Console.WriteLine(result);
if (options.JsonPath is { } jsonPath)
{
    await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(new
    {
        benchmark = "transport",
        config = new
        {
            size_mb = options.SizeMb, reps = options.Reps, warmup = options.Warmup, warmup_ms = options.WarmupMs, chunk_kb = options.ChunkKb,
            socket_buffer_kb = options.SocketBufferKb, calls = options.Calls, concurrency = options.Concurrency, seconds = options.Seconds,
        },
        results = results.Select(r => r.ToJson()),
        raw_mbps = rawMbps.Select(v => Math.Round(v, 1)),
        transport_mbps = transportMbps.Select(v => Math.Round(v, 1)),
    }, new JsonSerializerOptions { WriteIndented = true }));
}
return 0;

internal sealed record BenchOptions(
    int SizeMb, int Reps, int Warmup, int WarmupMs, int Calls, int Concurrency, int Seconds, int ChunkKb, int SocketBufferKb, string? JsonPath)
{
    public const string Usage =
        "usage: OrleansLm.TransportBench [--size-mb N=64] [--reps R=15] [--warmup W=5] [--warmup-ms T=4000] [--calls N=20000]\n" +
        "                                [--concurrency C=64] [--seconds S=3] [--chunk-kb K=64 (TransportOptions.MaxChunkSize)]\n" +
        "                                [--socket-buffer-kb B=0 (TransportOptions.SocketBufferSize, 0 = OS default; raw TCP too)] [--json PATH]\n" +
        "       (bandwidth warm-up: at least W payloads each way and at least T ms)";

    public static BenchOptions? Parse(string[] args)
    {
        var values = BenchArguments.Parse(args, new Dictionary<string, int>
        {
            ["--size-mb"] = 64, ["--reps"] = 15, ["--warmup"] = 5, ["--warmup-ms"] = 4000, ["--calls"] = 20_000,
            ["--concurrency"] = 64, ["--seconds"] = 3, ["--chunk-kb"] = 64, ["--socket-buffer-kb"] = 0,
        }, "--socket-buffer-kb");
        return values is null
            ? null
            : new BenchOptions(values["--size-mb"], values["--reps"], values["--warmup"], values["--warmup-ms"], values["--calls"],
                values["--concurrency"], values["--seconds"], values["--chunk-kb"], values["--socket-buffer-kb"], values.JsonPath);
    }
}
