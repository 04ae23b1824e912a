using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OrleansLm.Protos.Grpc;
using OrleansLm.Silo.Hosting;
using OrleansLm.Silo.Metrics;

namespace OrleansLm.Integration.Tests.Metrics;

/// <summary>GET /metrics of the silo application hosted in-process on real sockets (<see cref="KestrelSiloFactory"/>).</summary>
public class MetricsEndpointTests(KestrelSiloFactory silo) : IClassFixture<KestrelSiloFactory>
{
    [Fact]
    public async Task ScrapePassesPromtoolWithEveryKindOfMetric()
    {
        // The silo's MeterProvider sees only what is recorded once it exists.
        using var http = new HttpClient { BaseAddress = silo.SiloUrl };
        // A meter the silo listens to (its name starts with OrleansLm), with each kind of instrument and awkward labels.
        using var meter = new Meter($"{MetricsHosting.MeterPrefix}.Test.Promtool.{Guid.NewGuid():N}");
        var requests = meter.CreateCounter<long>("olm.test.promtool.requests", "{request}", "Requests \"served\",\nby path C:\\x.");
        requests.Add(3, new KeyValuePair<string, object?>("path", "C:\\runs\\\"best\"\nnext"), new("http.route", "/v1/{id}"));
        requests.Add(1, new KeyValuePair<string, object?>("path", "plain"), new("http.route", "/"));
        meter.CreateUpDownCounter<long>("olm.test.promtool.queue", "{item}", "Items queued.").Add(-2);
        meter.CreateObservableGauge("olm.test.promtool.temperature", () => new Measurement<double>(double.NaN), "Cel", "Not measured yet.");
        var duration = meter.CreateHistogram<double>("olm.test.promtool.step", "s", "Step time.");
        foreach (var seconds in new[] { 0.0001, 0.02, 0.5, 3, 90 })
            duration.Record(seconds, new KeyValuePair<string, object?>("phase", "forward"));
        meter.CreateHistogram<long>("olm.test.promtool.payload", "By", "Payload size.").Record(70_000);

        using var response = await http.GetAsync(MetricsHosting.Path);
        var text = await response.Content.ReadAsStringAsync();

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.ToString().Should().Be(PrometheusText.ContentType);
        var scrape = Exposition.Parse(text);
        scrape.Families.Keys.Should().Contain(
        [
            "olm_test_promtool_requests_total", "olm_test_promtool_queue", "olm_test_promtool_temperature_celsius",
            "olm_test_promtool_step_seconds", "olm_test_promtool_payload_bytes",
            "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "dotnet_total_memory_bytes",
            "dotnet_gc_collections_total", "dotnet_thread_pool_threads", "olm_tensors_live",
        ]);
        scrape["olm_test_promtool_requests_total"].Single("olm_test_promtool_requests_total", ("path", "C:\\runs\\\"best\"\nnext")).Value.Should().Be(3);
        var address = silo.Services.GetRequiredService<ClusterHost>().Address!.ToString();
        scrape.Families.Values.SelectMany(f => f.Samples).Should().OnlyContain(s => s.Labels[MetricsHosting.SiloLabel] == address);

        var check = await Promtool.CheckMetricsAsync(text);
        (check.Output + check.Error).Should().BeEmpty($"promtool finds nothing wrong in\n{text}");
        check.ExitCode.Should().Be(0);
    }

    [Fact]
    public async Task ProcessMetricsAreThoseOfThisProcess()
    {
        using var http = new HttpClient { BaseAddress = silo.SiloUrl };
        var scrape = Exposition.Parse(await http.GetStringAsync(MetricsHosting.Path));

        var openFiles = Directory.GetFileSystemEntries("/proc/self/fd").Length;
        scrape["process_open_fds"].Samples.Single().Value.Should().BeInRange(openFiles / 2.0, openFiles * 2.0);
        scrape["process_cpu_seconds_total"].Samples.Single().Value.Should().BeInRange(0.01, Environment.CpuUsage.TotalTime.TotalSeconds);
        var resident = scrape["process_resident_memory_bytes"].Samples.Single().Value;
        resident.Should().BeInRange(Environment.WorkingSet / 2.0, Environment.WorkingSet * 2.0);
        scrape["dotnet_gc_collections_total"].Samples.Select(s => s.Labels["generation"]).Should().Equal(
            Enumerable.Range(0, GC.MaxGeneration + 1).Select(g => g.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        scrape["olm_tensors_live"].Samples.Single().Value.Should().BeGreaterThanOrEqualTo(0);
    }

    [Fact]
    public async Task MetricsAreOnTheSilosHttpPortAndNotOnTheGateways()
    {
        using var http = new HttpClient();
        using var onSiloPort = await http.GetAsync(new Uri(silo.SiloUrl, MetricsHosting.Path));
        onSiloPort.StatusCode.Should().Be(HttpStatusCode.OK);
        (await onSiloPort.Content.ReadAsStringAsync()).Should().Contain("# TYPE process_cpu_seconds_total counter");

        // The gateway's port speaks h2c only; every request there goes to the gRPC dispatcher, which refuses a GET.
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(silo.GatewayUrl, MetricsHosting.Path))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var onGatewayPort = await http.SendAsync(request);
        onGatewayPort.StatusCode.Should().Be(HttpStatusCode.UnsupportedMediaType);
        onGatewayPort.Headers.Contains(GrpcProtocol.StatusHeader).Should().BeTrue();
        (await onGatewayPort.Content.ReadAsStringAsync()).Should().NotContain("# TYPE");
    }
}
