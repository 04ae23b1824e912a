using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging;
using OrleansLm.Silo.Metrics;

namespace OrleansLm.Integration.Tests.Metrics;

/// <summary>Scrapes one at a time, and failures that stay inside the endpoint.</summary>
public class PrometheusScraperTests
{
    [Fact]
    public async Task ConcurrentScrapesTakeTurns()
    {
        using var meters = new ScrapedMeters();
        var inside = 0;
        var mostInside = 0;
        var observations = 0;
        meters.Meter().CreateObservableGauge("olm.test.busy", () =>
        {
            var now = Interlocked.Increment(ref inside);
            InterlockedMax(ref mostInside, now);
            Thread.Sleep(20);
            Interlocked.Decrement(ref inside);
            return Interlocked.Increment(ref observations);
        }, description: "Busy.");

        var scrapes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => meters.Scraper.ScrapeAsync([], CancellationToken.None))));

        mostInside.Should().Be(1);
        observations.Should().Be(8);
        scrapes.Select(text => Exposition.Parse(text)["olm_test_busy"].Samples.Single().Value).Should().BeEquivalentTo([1, 2, 3, 4, 5, 6, 7, 8]);
    }

    [Fact]
    public async Task CallbackThatThrowsLeavesTheOtherInstrumentsScraped()
    {
        using var meters = new ScrapedMeters();
        var meter = meters.Meter();
        meter.CreateObservableGauge<long>("olm.test.broken", (Func<long>)(() => throw new InvalidOperationException("broken gauge")), description: "Broken.");
        meter.CreateCounter<long>("olm.test.fine", description: "Fine.").Add(4);

        var scrape = await meters.ScrapeAsync();

        scrape["olm_test_fine_total"].Samples.Single().Value.Should().Be(4);
    }

    [Fact]
    public async Task ScrapeThatFailsIsHttp500WithAPlainMessageAndLogged()
    {
        var meters = new ScrapedMeters();
        meters.Dispose();
        var logger = new RecordingLogger();

        var result = await MetricsHosting.ScrapeAsync(meters.Scraper, [], logger, CancellationToken.None);

        var content = result.Should().BeOfType<ContentHttpResult>().Subject;
        content.StatusCode.Should().Be(500);
        content.ContentType.Should().StartWith("text/plain");
        content.ResponseContent.Should().StartWith("metrics collection failed: ").And.Contain("shut down");
        logger.Entries.Should().ContainSingle(e => e.Level == LogLevel.Error).Which.Exception.Should().BeOfType<ObjectDisposedException>();
    }

    [Fact]
    public async Task ScrapeThatSucceedsIsTheTextWithItsContentType()
    {
        using var meters = new ScrapedMeters();
        meters.Meter().CreateCounter<long>("olm.test.ok", description: "Fine.").Add(1);
        var logger = new RecordingLogger();

        var result = await MetricsHosting.ScrapeAsync(meters.Scraper, [], logger, CancellationToken.None);

        var content = result.Should().BeOfType<ContentHttpResult>().Subject;
        content.StatusCode.Should().BeNull("200 is the default");
        content.ContentType.Should().Be("text/plain; version=0.0.4; charset=utf-8");
        Exposition.Parse(content.ResponseContent!)["olm_test_ok_total"].Samples.Single().Value.Should().Be(1);
        logger.Entries.Should().BeEmpty();
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current) return;
            current = seen;
        }
    }
}
