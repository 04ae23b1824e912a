using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace OrleansLm.Silo.Metrics;

/// <summary>
/// The exporter of <see cref="PrometheusScraper"/>: pull-only, so it writes metrics only when a scrape collects them,
/// into the writer that scrape hands it. A pull-only reader collects only through <see cref="Collect"/>, the delegate
/// its reader sets (a plain MetricReader.Collect outside the SDK's pull scope does nothing and returns false).
/// </summary>
[ExportModes(ExportModes.Pull)]
internal sealed class PrometheusExporter : BaseExporter<Metric>, IPullMetricExporter
{
    private PrometheusTextWriter? writer;
    private Exception? failure;

    /// <summary>Set by the reader; null once it is disposed.</summary>
    public Func<int, bool>? Collect { get; set; }

    /// <summary>Collects every metric (running the observable instruments' callbacks) into <paramref name="target"/>; one call at a time.</summary>
    public void CollectInto(PrometheusTextWriter target, TimeSpan timeout)
    {
        var collect = Collect ?? throw new ObjectDisposedException(nameof(PrometheusExporter), "the meter provider has been shut down");
        writer = target;
        failure = null;
        try
        {
            if (collect((int)timeout.TotalMilliseconds)) return;
            throw failure is null
                ? new InvalidOperationException($"the OpenTelemetry SDK did not collect the metrics within {timeout.TotalSeconds} s")
                : new InvalidOperationException($"writing the metrics failed: {failure.Message}", failure);
        }
        finally
        {
            writer = null;
        }
    }

    public override ExportResult Export(in Batch<Metric> batch)
    {
        // The SDK catches what an exporter throws and only reports it on its event source: keep it for the scrape.
        if (writer is null) return ExportResult.Failure;
        try
        {
            foreach (var metric in batch)
                writer.Add(metric);
            return ExportResult.Success;
        }
        catch (Exception e)
        {
            failure = e;
            return ExportResult.Failure;
        }
    }
}
