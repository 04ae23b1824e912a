using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Metrics;

/// <summary>
/// The grain calls a silo runs, by grain interface and outcome, their latency, and the silo's activations (meter
/// <see cref="RuntimeMeters.Name"/>). One per silo runtime, disposed with it, so silos sharing a process (tests) each
/// observe their own catalog.
/// </summary>
internal sealed class GrainCallMetrics : IDisposable
{
    private static readonly ConcurrentDictionary<string, string> ShortNames = new();

    private readonly Meter meter = new(RuntimeMeters.Name);
    private readonly Counter<long> calls;
    private readonly Histogram<double> duration;

    /// <param name="activations">The grain interface of each live activation, read when metrics are collected.</param>
    public GrainCallMetrics(Func<IEnumerable<string>> activations)
    {
        calls = meter.CreateCounter<long>("olm.grain.calls", "{call}", "Grain calls run on this silo, by grain interface and outcome (ok or error).");
        duration = meter.CreateHistogram<double>("olm.grain.call.duration", "s",
            "Time from a call's arrival at this silo's catalog to its result, queueing and activation included, by grain interface.");
        meter.CreateObservableGauge("olm.grain.activations", () => activations()
                .GroupBy(ShortName)
                .Select(g => new Measurement<int>(g.Count(), new KeyValuePair<string, object?>("grain", g.Key))),
            "{activation}", "Live activations on this silo, by grain interface.");
    }

    /// <summary><paramref name="completion"/>, counted and timed from <paramref name="started"/> (a <see cref="Stopwatch"/> timestamp) when anyone listens.</summary>
    public Task<object?> Measure(Task<object?> completion, GrainId target, long started) =>
        calls.Enabled || duration.Enabled ? MeasureAsync(completion, ShortName(target.Type), started) : completion;

    public void Dispose() => meter.Dispose();

    private async Task<object?> MeasureAsync(Task<object?> completion, string grain, long started)
    {
        var outcome = "error";
        try
        {
            var result = await completion.ConfigureAwait(false);
            outcome = "ok";
            return result;
        }
        finally
        {
            var grainTag = new KeyValuePair<string, object?>("grain", grain);
            calls.Add(1, grainTag, new KeyValuePair<string, object?>("outcome", outcome));
            duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, grainTag);
        }
    }

    /// <summary>The interface's name without its namespace: labels stay short, and interface names are unique within a cluster's grains.</summary>
    private static string ShortName(string interfaceName) =>
        ShortNames.GetOrAdd(interfaceName, name => name[(name.LastIndexOf('.') + 1)..]);
}
