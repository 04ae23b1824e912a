using System.Diagnostics.Metrics;
using OrleansLm.Silo.Metrics;

namespace OrleansLm.Integration.Tests.Metrics;

/// <summary>
/// Meters of one test and a <see cref="PrometheusScraper"/> over them alone: their names share a prefix no other test
/// uses, outside "OrleansLm" so that silos hosted in this process do not scrape them. The scraper exists before the
/// meters, so it sees every measurement.
/// </summary>
public sealed class ScrapedMeters : IDisposable
{
    private readonly string prefix = $"MetricsTests.{Guid.NewGuid():N}";
    private readonly List<Meter> meters = [];

    public ScrapedMeters() => Scraper = new PrometheusScraper([prefix + "*"], Logger);

    public PrometheusScraper Scraper { get; }

    public RecordingLogger Logger { get; } = new();

    /// <summary>The text of the last <see cref="ScrapeAsync"/>.</summary>
    public string Text { get; private set; } = "";

    public Meter Meter(string name = "main")
    {
        var meter = new Meter($"{prefix}.{name}", version: "1.2.3");
        meters.Add(meter);
        return meter;
    }

    public async Task<Exposition> ScrapeAsync(params KeyValuePair<string, string>[] constantLabels)
    {
        Text = await Scraper.ScrapeAsync(constantLabels, CancellationToken.None);
        return Exposition.Parse(Text);
    }

    public void Dispose()
    {
        Scraper.Dispose();
        foreach (var meter in meters)
            meter.Dispose();
    }
}
