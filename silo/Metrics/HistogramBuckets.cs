using System.Diagnostics.Metrics;
using OpenTelemetry.Metrics;

namespace OrleansLm.Silo.Metrics;

/// <summary>
/// Bucket boundaries by unit, as an OpenTelemetry view. The SDK's default boundaries (0, 5, 10, 25 ... 10000) are shaped
/// for milliseconds; our latencies are in seconds and sizes in bytes. A histogram that advises its own boundaries
/// (<see cref="InstrumentAdvice{T}.HistogramBucketBoundaries"/>) keeps them.
/// </summary>
public static class HistogramBuckets
{
    /// <summary>For unit "s": half a millisecond to a minute.</summary>
    public static IReadOnlyList<double> Seconds { get; } =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    /// <summary>For unit "By": powers of 4 from 1 KiB to 1 GiB.</summary>
    public static IReadOnlyList<double> Bytes { get; } = [.. Enumerable.Range(5, 11).Select(power => Math.Pow(4, power))];

    /// <summary>The view: seconds or bytes buckets for histograms in those units that advise none; null (no change) otherwise.</summary>
    public static MetricStreamConfiguration? View(Instrument instrument)
    {
        if (AdvisesBoundaries(instrument) is not false) return null;
        return instrument.Unit switch
        {
            "s" => new ExplicitBucketHistogramConfiguration { Boundaries = [.. Seconds] },
            "By" => new ExplicitBucketHistogramConfiguration { Boundaries = [.. Bytes] },
            _ => null,
        };
    }

    /// <summary>Whether a histogram advises bucket boundaries; null for instruments that are not histograms.</summary>
    private static bool? AdvisesBoundaries(Instrument instrument) => instrument switch
    {
        Histogram<double> histogram => histogram.Advice?.HistogramBucketBoundaries is not null,
        Histogram<float> histogram => histogram.Advice?.HistogramBucketBoundaries is not null,
        Histogram<long> histogram => histogram.Advice?.HistogramBucketBoundaries is not null,
        Histogram<int> histogram => histogram.Advice?.HistogramBucketBoundaries is not null,
        Histogram<short> histogram => histogram.Advice?.HistogramBucketBoundaries is not null,
        Histogram<byte> histogram => histogram.Advice?.HistogramBucketBoundaries is not null,
        _ => null,
    };
}
