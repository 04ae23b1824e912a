using System.Diagnostics.Metrics;
using OrleansLm.Silo.Metrics;

namespace OrleansLm.Integration.Tests.Metrics;

/// <summary>
/// Family names and types as OpenTelemetry's Prometheus compatibility specification maps instruments, checked on real
/// instruments scraped through a real MeterProvider (<see cref="ScrapedMeters"/>).
/// </summary>
public class PrometheusNamesTests
{
    public static TheoryData<string, string, string, string, string> Instruments => new()
    {
        // kind, instrument name, unit: family name, family type
        { "counter", "olm.test.requests", "{request}", "olm_test_requests_total", "counter" },
        { "counter", "olm.test.busy", "s", "olm_test_busy_seconds_total", "counter" },
        { "counter", "olm.test.sent_total", "By", "olm_test_sent_bytes_total", "counter" },
        { "counter", "olm.test.items", "1", "olm_test_items_total", "counter" },
        { "counter", "olm.test.cpu.seconds", "s", "olm_test_cpu_seconds_total", "counter" },
        { "updown", "olm.test.queue-depth", "{item}", "olm_test_queue_depth", "gauge" },
        { "gauge", "olm.test.utilization", "1", "olm_test_utilization_ratio", "gauge" },
        { "gauge", "olm.test/disk--io", "By/s", "olm_test_disk_io_bytes_per_second", "gauge" },
        { "gauge", "olm.test.memory", "KiBy", "olm_test_memory_kibibytes", "gauge" },
        { "gauge", "olm.test.load", "%", "olm_test_load_percent", "gauge" },
        { "gauge", "olm.test.arrivals", "{request}/s", "olm_test_arrivals_per_second", "gauge" },
        { "gauge", "olm.test.latency_seconds", "s", "olm_test_latency_seconds", "gauge" },
        { "gauge", "olm.test.temperature", "", "olm_test_temperature", "gauge" },
        { "histogram", "olm.test.step.duration", "s", "olm_test_step_duration_seconds", "histogram" },
        { "histogram", "olm.test.step.wait", "ms", "olm_test_step_wait_milliseconds", "histogram" },
    };

    [Theory]
    [MemberData(nameof(Instruments))]
    public async Task InstrumentBecomesItsFamily(string kind, string name, string unit, string family, string type)
    {
        using var meters = new ScrapedMeters();
        var meter = meters.Meter();
        Record(meter, kind, name, unit);

        var scrape = await meters.ScrapeAsync();

        scrape.Families.Keys.Should().Equal(family);
        scrape[family].Type.Should().Be(type);
        meters.Logger.Entries.Should().BeEmpty();
    }

    [Theory]
    // Names the OpenTelemetry SDK itself refuses (it wants [a-zA-Z][-.\w/]*) but the mapping must still make valid.
    [InlineData("2xx responses", "{response}", PrometheusType.Counter, "_2xx_responses_total")]
    [InlineData("olm:test.colon", "", PrometheusType.Gauge, "olm:test_colon")]
    [InlineData("olm__test...x", "ms", PrometheusType.Gauge, "olm_test_x_milliseconds")]
    [InlineData("total", "", PrometheusType.Counter, "total_total")]
    [InlineData("requests_total", "s", PrometheusType.Counter, "requests_seconds_total")]
    public void NamesOutsideTheSdksRulesStillMapToValidNames(string name, string unit, PrometheusType type, string expected) =>
        PrometheusNames.MetricName(name, unit, type).Should().Be(expected).And.MatchRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*$");

    private static void Record(Meter meter, string kind, string name, string unit)
    {
        const string Description = "A test instrument.";
        switch (kind)
        {
            case "counter":
                meter.CreateCounter<long>(name, unit, Description).Add(3);
                break;
            case "updown":
                meter.CreateUpDownCounter<long>(name, unit, Description).Add(-2);
                break;
            case "gauge":
                meter.CreateObservableGauge(name, () => 0.25, unit, Description);
                break;
            case "histogram":
                meter.CreateHistogram<double>(name, unit, Description).Record(0.125);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "not an instrument kind of these tests");
        }
    }
}
