using System.Globalization;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace OrleansLm.Silo.Metrics;

/// <summary>
/// An OpenTelemetry MeterProvider over the meters named (wildcards as in "OrleansLm*"), cumulative, with
/// <see cref="HistogramBuckets"/>' view, read by a pull exporter: each <see cref="ScrapeAsync"/> collects and returns
/// the Prometheus text. Scrapes take turns, since a collection's points are valid only while it is being exported.
/// </summary>
public sealed class PrometheusScraper : IDisposable
{
    private static readonly TimeSpan CollectTimeout = TimeSpan.FromSeconds(10);

    private readonly SemaphoreSlim turn = new(1, 1);
    private readonly PrometheusExporter exporter = new();
    private readonly HashSet<string> reportedProblems = new(StringComparer.Ordinal);
    private readonly MeterProvider provider;
    private readonly ILogger logger;

    public PrometheusScraper(IReadOnlyList<string> meters, ILogger logger)
    {
        this.logger = logger;
        provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter([.. meters])
            .AddView(HistogramBuckets.View)
            .AddReader(new BaseExportingMetricReader(exporter) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative })
            .Build();
    }

    /// <param name="constantLabels">Labels for every series (those with a label of the same name keep theirs).</param>
    /// <exception cref="InvalidOperationException">The SDK did not collect, or the metrics could not be written.</exception>
    public async Task<string> ScrapeAsync(IReadOnlyList<KeyValuePair<string, string>> constantLabels, CancellationToken cancellation)
    {
        await turn.WaitAsync(cancellation);
        try
        {
            var writer = new PrometheusTextWriter(constantLabels);
            exporter.CollectInto(writer, CollectTimeout);
            // The same problem comes back with every scrape: say it once.
            foreach (var problem in writer.Problems.Where(reportedProblems.Add))
                logger.LogWarning("Metrics: {Problem}", problem);
            using var text = new StringWriter(CultureInfo.InvariantCulture);
            writer.WriteTo(text);
            return text.ToString();
        }
        finally
        {
            turn.Release();
        }
    }

    public void Dispose() => provider.Dispose();
}
