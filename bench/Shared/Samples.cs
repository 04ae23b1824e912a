using System.Diagnostics;

namespace OrleansLm.Bench;

/// <summary>Timing loops and order statistics the benchmarks share.</summary>
internal static class Samples
{
    public static async Task<double> TimeAsync(Func<Task> action)
    {
        var start = Stopwatch.GetTimestamp();
        await action();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>
    /// The round trip of each of <paramref name="calls"/> calls made one after another, in µs, at the Stopwatch's own
    /// resolution (a TimeSpan would round it to 100 ns, a seventh of a local grain call).
    /// </summary>
    public static async Task<double[]> SequentialMicrosecondsAsync(int calls, Func<Task> call)
    {
        var latencies = new double[calls];
        for (var i = 0; i < latencies.Length; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await call();
            latencies[i] = (Stopwatch.GetTimestamp() - start) * 1e6 / Stopwatch.Frequency;
        }
        return latencies;
    }

    /// <summary>
    /// The calls completed by <paramref name="callers"/> loops that each make one call after another for
    /// <paramref name="duration"/> (calls under way then are finished and counted); a loop gets its index, so each
    /// can have a target of its own.
    /// </summary>
    public static async Task<Throughput> ThroughputAsync(int callers, TimeSpan duration, Func<int, Task> call)
    {
        var calls = 0L;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(async caller =>
        {
            while (clock.Elapsed < duration)
            {
                await call(caller);
                Interlocked.Increment(ref calls);
            }
        }));
        return new Throughput(calls, clock.Elapsed);
    }

    public static double Median(IReadOnlyList<double> samples) => Percentile(samples, 0.5);

    /// <summary>The sample at rank round(q·(n−1)) of the sorted samples.</summary>
    public static double Percentile(IReadOnlyList<double> samples, double quantile)
    {
        var sorted = samples.Order().ToArray();
        return sorted[(int)Math.Min(sorted.Length - 1, Math.Round(quantile * (sorted.Length - 1)))];
    }
}

internal readonly record struct Throughput(long Calls, TimeSpan Elapsed)
{
    public double PerSecond => Calls / Elapsed.TotalSeconds;
}
