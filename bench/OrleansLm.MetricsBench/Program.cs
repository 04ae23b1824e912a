using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansLm.Bench;
using OrleansLm.MetricsBench;

// Usage: OrleansLm.MetricsBench [--calls 20000] [--reps 7] [--concurrency 64] [--seconds 1] [--warmup-ms 1000] [--scrapes 30] [--json PATH]
// What metrics cost the silo. Two ClusterSilos in this process on 127.0.0.1 (as bench/OrleansLm.GrainCallBench): an echo
// grain on the calling silo and one on the other silo, called with the silo's meters listened to by the MeterProvider
// the silo builds for /metrics (MetricsHosting.CreateScraper) and with no listener; each repetition runs both variants,
// in alternating order, after one untimed round of both; the table shows medians over the repetitions and their range.
// Then one /metrics scrape of a realistic registry, called directly and as a GET against Kestrel in this process; --json
// also writes that scrape's text as scrape.txt beside PATH.

const string Usage =
    "usage: OrleansLm.MetricsBench [--calls N=20000 (sequential calls per path, variant and repetition)] [--reps R=7]\n" +
    "                              [--concurrency C=64 (callers, each on its own grain)] [--seconds S=1 (per throughput run)]\n" +
    "                              [--warmup-ms T=1000 (per path and variant)] [--scrapes K=30 (per repetition, direct and over HTTP)] [--json PATH]";
const double ScrapeIntervalSeconds = 15;

var options = BenchArguments.Parse(args, new Dictionary<string, int>
{
    ["--calls"] = 20_000, ["--reps"] = 7, ["--concurrency"] = 64, ["--seconds"] = 1, ["--warmup-ms"] = 1000, ["--scrapes"] = 30,
});
if (options is null)
{
    Console.Error.WriteLine(Usage);
    return 2;
}
var (calls, reps, concurrency, scrapes) = (options["--calls"], options["--reps"], options["--concurrency"], options["--scrapes"]);
var duration = TimeSpan.FromSeconds(options["--seconds"]);
var warmUp = TimeSpan.FromMilliseconds(options["--warmup-ms"]);

await using var silos = await EchoSilos.StartAsync(Fleet.Register);
var sameSilo = await silos.ActivateAsync(silos.Caller, [.. Enumerable.Range(0, concurrency).Select(key => (long)key)]);
// The cheaper cross-silo case of bench/grain_calls.sh: the caller owns the grains' directory entries, so a call
// makes one round trip.
var crossSilo = await silos.ActivateAsync(silos.Host, silos.KeysWithDirectoryEntryOn(silos.Caller, concurrency, firstKey: concurrency));
CallPath[] paths =
[
    new("same_silo", "local grain call", index => sameSilo[index].Echo(index)),
    new("cross_silo", "cross-silo grain call", index => crossSilo[index].Echo(index)),
];

var overhead = new CallOverhead(paths, calls, concurrency, duration, warmUp);
Console.Error.WriteLine("untimed round");
await overhead.MeasureAsync(listened: false);
await overhead.MeasureAsync(listened: true);
var none = new List<VariantRun>();
var otel = new List<VariantRun>();
for (var rep = 0; rep < reps; rep++)
{
    Console.Error.WriteLine($"repetition {rep + 1} of {reps}");
    foreach (var listened in rep % 2 == 0 ? [false, true] : new[] { true, false })
        (listened ? otel : none).Add(await overhead.MeasureAsync(listened));
}

Console.Error.WriteLine("scrapes");
string scrapeText;
ScrapeShape shape;
var scrapeRuns = new List<ScrapeRun>();
await using (var scrape = await ScrapeCost.StartAsync(silos))
{
    (scrapeText, shape) = await scrape.SampleAsync();
    for (var rep = 0; rep < reps; rep++) scrapeRuns.Add(await scrape.MeasureAsync(scrapes));
}

var results = new List<BenchResult>();
Console.WriteLine(Invariant($"metrics cost: 2 ClusterSilos in one process; variants none (no listener) and otel (the silo's MeterProvider, as /metrics builds it)"));
Console.WriteLine(Invariant($"per path and variant {calls} sequential calls (p50/p99) and {concurrency} callers for {duration.TotalSeconds:0.#} s (calls/s); medians of {reps} repetitions [range]"));
Console.WriteLine(Invariant($"{"path",-24} {"variant",-8} {"p50 ns",-20} {"p99 ns",-22} {"calls/s",-26} {"B/call",8} {"pool items",10}"));
foreach (var path in paths)
{
    foreach (var (variant, runs) in new[] { ("none", none), ("otel", otel) })
    {
        var of = runs.Select(r => r.Calls[path.Name]).ToArray();
        var (p50, p99, perSecond, allocated) = (Spread.Of(of.Select(c => c.P50)), Spread.Of(of.Select(c => c.P99)),
            Spread.Of(of.Select(c => c.CallsPerSecond)), Spread.Of(of.Select(c => c.AllocatedBytes)));
        var workItems = Spread.Of(of.Select(c => c.WorkItems));
        Console.WriteLine(Invariant($"{(variant == "none" ? path.Title : ""),-24} {variant,-8} {p50.Text("F0"),-20} {p99.Text("F0"),-22} {perSecond.Text("N0"),-26} {allocated.Median,8:F0} {workItems.Median,10:F2}"));
        results.Add(new($"{path.Name}_{variant}_p50", "ns", p50.Median, $"{path.Title}, {Describe(variant)}; sequential, {calls} calls"));
        results.Add(new($"{path.Name}_{variant}_p99", "ns", p99.Median, "same calls"));
        results.Add(new($"{path.Name}_{variant}_calls_per_s", "calls/s", perSecond.Median, $"{concurrency} callers for {duration.TotalSeconds:0.#} s"));
        results.Add(new($"{path.Name}_{variant}_allocated", "B/call", allocated.Median, "managed bytes allocated per sequential call"));
        results.Add(new($"{path.Name}_{variant}_work_items", "items/call", workItems.Median, "thread-pool work items completed per sequential call"));
    }
    // Paired within each repetition, so a slow stretch of the machine hits both sides of a difference.
    var pairs = none.Zip(otel, (n, o) => (None: n.Calls[path.Name], Otel: o.Calls[path.Name])).ToArray();
    var p50Added = Spread.Of(pairs.Select(p => p.Otel.P50 - p.None.P50));
    var p50Percent = Spread.Of(pairs.Select(p => 100 * (p.Otel.P50 / p.None.P50 - 1)));
    var p99Added = Spread.Of(pairs.Select(p => p.Otel.P99 - p.None.P99));
    var perSecondPercent = Spread.Of(pairs.Select(p => 100 * (p.Otel.CallsPerSecond / p.None.CallsPerSecond - 1)));
    var allocatedAdded = Spread.Of(pairs.Select(p => p.Otel.AllocatedBytes - p.None.AllocatedBytes));
    Console.WriteLine(Invariant($"{"",-24} {"otel−none",-8} {p50Added.Text("+0;−0"),-20} {p99Added.Text("+0;−0"),-22} {perSecondPercent.Text("+0.0;−0.0") + " %",-26} {allocatedAdded.Median,8:+0;−0}"));
    Console.WriteLine(Invariant($"{"",-24} {"",-8} {p50Percent.Text("+0.0;−0.0") + " %",-20}"));
    results.Add(new($"{path.Name}_p50_added", "ns", p50Added.Median, "otel p50 − none p50, paired within each repetition"));
    results.Add(new($"{path.Name}_p50_added_percent", "%", p50Percent.Median, "the same relative to none"));
    results.Add(new($"{path.Name}_p99_added", "ns", p99Added.Median, "otel p99 − none p99, paired"));
    results.Add(new($"{path.Name}_calls_per_s_change_percent", "%", perSecondPercent.Median, "otel calls/s relative to none, paired"));
    results.Add(new($"{path.Name}_allocated_added", "B/call", allocatedAdded.Median, "otel − none bytes allocated per call, paired"));
}

Console.WriteLine();
Console.WriteLine(Invariant($"{"recording, ns each",-56} {"none",-16} {"otel",-16}"));
foreach (var (name, title, value) in new (string, string, Func<VariantRun, double>)[]
         {
             ("step_recording", $"one training step ({Recordings.Workers} workers, {Recordings.Shards} shards: 33 measurements)", r => r.StepRecording),
             ("gateway_call_recording", "one gateway call (begin and end)", r => r.GatewayCallRecording),
         })
{
    var (n, o) = (Spread.Of(none.Select(value)), Spread.Of(otel.Select(value)));
    Console.WriteLine(Invariant($"{title,-56} {n.Text("F0"),-16} {o.Text("F0"),-16}"));
    results.Add(new($"{name}_none", "ns", n.Median, $"{title}, no listener"));
    results.Add(new($"{name}_otel", "ns", o.Median, $"{title}, the silo's MeterProvider"));
}

var localCall = Samples.Median(none.Select(r => r.Calls["same_silo"].P50).ToArray());
var direct = Spread.Of(scrapeRuns.Select(r => r.DirectMilliseconds));
var overHttp = Spread.Of(scrapeRuns.Select(r => r.HttpMilliseconds));
var scrapeAllocated = Samples.Median(scrapeRuns.Select(r => r.AllocatedBytes).ToArray());
Console.WriteLine();
Console.WriteLine(Invariant($"scrape: {shape.Samples:N0} samples in {shape.Families} families, {shape.Bytes:N0} B ({Registry.Runs} runs × {Recordings.Workers} workers, {Recordings.Shards} shards; 10 gateway methods × 5 codes; {Fleet.Interfaces.Count} grain interfaces)"));
Console.WriteLine(Invariant($"{"",-14} {"ms",-20} {"ns/sample",10} {"of 15 s",10} {"local calls",12}"));
foreach (var (title, spread) in new[] { ("direct", direct), ("HTTP GET", overHttp) })
    Console.WriteLine(Invariant($"{title,-14} {spread.Text("F2"),-20} {1e6 * spread.Median / shape.Samples,10:F0} {spread.Median / 1000 / ScrapeIntervalSeconds,10:P4} {1e6 * spread.Median / localCall,12:N0}"));
Console.WriteLine(Invariant($"allocated per direct scrape: {scrapeAllocated / 1024:N0} KiB"));
results.Add(new("scrape_samples", "samples", shape.Samples, "lines with a value in one scrape"));
results.Add(new("scrape_families", "families", shape.Families, "# TYPE lines"));
results.Add(new("scrape_bytes", "B", shape.Bytes, "UTF-8 size of one scrape"));
results.Add(new("scrape_direct", "ms", direct.Median, $"PrometheusScraper.ScrapeAsync, median of {scrapes} per repetition"));
results.Add(new("scrape_http", "ms", overHttp.Median, $"GET /metrics against Kestrel in this process, median of {scrapes} per repetition"));
results.Add(new("scrape_direct_per_sample", "ns", 1e6 * direct.Median / shape.Samples, "direct scrape / samples"));
results.Add(new("scrape_direct_of_interval", "%", 100 * direct.Median / 1000 / ScrapeIntervalSeconds, "direct scrape / a 15 s scrape interval"));
results.Add(new("scrape_direct_in_local_calls", "calls", 1e6 * direct.Median / localCall, "direct scrape / the local grain call's p50 (none)"));
results.Add(new("scrape_allocated", "B", scrapeAllocated, "managed bytes allocated per direct scrape"));

var othersCores = Spread.Of(none.Concat(otel).Select(r => r.OthersCores).Concat(scrapeRuns.Select(r => r.OthersCores)));
Console.WriteLine(Invariant($"cores the rest of the machine kept busy meanwhile (of {Environment.ProcessorCount}): {othersCores.Text("F2")}"));

if (options.JsonPath is { } jsonPath)
{
    // The scraped text itself, for a look at what was measured.
    await File.WriteAllTextAsync(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(jsonPath))!, "scrape.txt"), scrapeText);
    await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(new
    {
        benchmark = "metrics",
        config = new { calls, reps, concurrency, seconds = duration.TotalSeconds, warmup_ms = warmUp.TotalMilliseconds, scrapes },
        results = results.Select(r => r.ToJson()),
        repetitions = new { none, otel },
        scrape = new { shape, runs = scrapeRuns },
    }, new JsonSerializerOptions
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    }));
}
return 0;

static string Describe(string variant) => variant == "none" ? "no listener" : "the silo's MeterProvider listening";

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

/// <summary>The median of repetitions' values and their range.</summary>
internal readonly record struct Spread(double Median, double Min, double Max)
{
    public static Spread Of(IEnumerable<double> values)
    {
        var all = values.ToArray();
        return new(Samples.Median(all), all.Min(), all.Max());
    }

    public string Text(string format) =>
        string.Create(CultureInfo.InvariantCulture, $"{Median.ToString(format, CultureInfo.InvariantCulture)} [{Min.ToString(format, CultureInfo.InvariantCulture)}…{Max.ToString(format, CultureInfo.InvariantCulture)}]");
}
