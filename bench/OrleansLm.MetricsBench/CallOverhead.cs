using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansLm.Bench;
using OrleansLm.Protos.Grpc;
using OrleansLm.Silo.Metrics;

namespace OrleansLm.MetricsBench;

/// <summary>A grain call to time; <see cref="Call"/> takes the caller's index, so concurrent callers each have a grain of their own.</summary>
internal sealed record CallPath(string Name, string Title, Func<int, Task> Call);

/// <summary>
/// One path under one variant in one repetition: sequential p50 and p99 in ns, calls/s with many callers, and per
/// sequential call the bytes allocated and the thread-pool work items completed.
/// </summary>
internal sealed record CallRun(double P50, double P99, double CallsPerSecond, double AllocatedBytes, double WorkItems);

/// <summary>
/// Everything measured under one variant in one repetition: each path's calls, the ns to record one training step's
/// and one gateway call's metrics, and the cores the rest of the machine kept busy meanwhile.
/// </summary>
internal sealed record VariantRun(bool Listened, IReadOnlyDictionary<string, CallRun> Calls, double StepRecording, double GatewayCallRecording, double OthersCores);

/// <summary>
/// The same grain calls and recordings with the silo's meters listened to by the MeterProvider the silo builds for
/// /metrics, or by nothing (the instruments then skip their work): <see cref="MeasureAsync"/> runs one variant.
/// </summary>
internal sealed partial class CallOverhead(IReadOnlyList<CallPath> paths, int calls, int concurrency, TimeSpan duration, TimeSpan warmUp)
{
    private const int StepRecordings = 20_000;
    private const int GatewayCallRecordings = 200_000;
    private const string EchoGrain = nameof(IEchoGrain);

    public async Task<VariantRun> MeasureAsync(bool listened)
    {
        var machine = MachineCpu.Now();
        using var scraper = listened ? MetricsHosting.CreateScraper(NullLogger.Instance) : null;
        var made = 0L;
        var runs = new Dictionary<string, CallRun>();
        foreach (var path in paths)
        {
            made += await WarmUpAsync(path);
            var before = CallCounters.Now();
            var latencies = await Samples.SequentialMicrosecondsAsync(calls, () => path.Call(0));
            var perCall = CallCounters.Now().Since(before, calls);
            var throughput = await Samples.ThroughputAsync(concurrency, duration, path.Call);
            made += calls + throughput.Calls;
            runs[path.Name] = new CallRun(1000 * Samples.Percentile(latencies, 0.50), 1000 * Samples.Percentile(latencies, 0.99), throughput.PerSecond,
                perCall.AllocatedBytes, perCall.WorkItems);
        }

        var run = new TrainingMeters.RunLabels("bench", "transformer");
        var (progress, timings) = Recordings.StepValues(100, new Random(1));
        var step = NanosecondsEach(StepRecordings, () => Recordings.Step(run, progress, timings));
        var gatewayCall = NanosecondsEach(GatewayCallRecordings, () => Recordings.GatewayCall("olm.v1.SamplingService/Generate", false, StatusCode.OK));

        if (scraper is not null) await CheckCountedAsync(scraper, made);
        return new VariantRun(listened, runs, step, gatewayCall, machine.OthersCoresSince());
    }

    /// <summary>Calls with many callers, then one after another, for half the warm-up each; returns how many calls that made.</summary>
    private async Task<long> WarmUpAsync(CallPath path)
    {
        var made = (await Samples.ThroughputAsync(concurrency, warmUp / 2, path.Call)).Calls;
        var until = DateTime.UtcNow + warmUp / 2;
        for (; DateTime.UtcNow < until; made++) await path.Call(0);
        return made;
    }

    /// <summary>ns per <paramref name="record"/> over <paramref name="count"/> calls, after as many untimed ones (tiered JIT).</summary>
    private static double NanosecondsEach(int count, Action record)
    {
        for (var i = 0; i < count; i++) record();
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++) record();
        return Stopwatch.GetElapsedTime(start).TotalNanoseconds / count;
    }

    /// <summary>
    /// The listened variant is only measured if the listener saw every echo call: the ok calls of IEchoGrain in a
    /// scrape (both silos' catalogs, one series since their instruments share a name) equal the calls made.
    /// </summary>
    private static async Task CheckCountedAsync(PrometheusScraper scraper, long made)
    {
        var text = await scraper.ScrapeAsync([], CancellationToken.None);
        var counted = CallsCounted().Matches(text)
            .Where(m => m.Groups["labels"].Value.Contains($"grain=\"{EchoGrain}\"", StringComparison.Ordinal)
                        && m.Groups["labels"].Value.Contains("outcome=\"ok\"", StringComparison.Ordinal))
            .Sum(m => long.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));
        if (counted != made)
            throw new InvalidOperationException($"the scrape counted {counted} {EchoGrain} calls where {made} were made: the listener did not see them all");
    }

    [GeneratedRegex(@"^olm_grain_calls_total\{(?<labels>[^}]*)\} (?<value>\d+)$", RegexOptions.Multiline)]
    private static partial Regex CallsCounted();
}
