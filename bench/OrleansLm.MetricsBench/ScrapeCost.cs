using System.Diagnostics;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansLm.Bench;
using OrleansLm.Protos.Grpc;
using OrleansLm.Silo.Grains;
using OrleansLm.Silo.Metrics;

namespace OrleansLm.MetricsBench;

/// <summary>What one scrape returns: its size in UTF-8, its samples (lines with a value) and families.</summary>
internal sealed record ScrapeShape(int Bytes, int Samples, int Families)
{
    public static ScrapeShape Of(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return new(Encoding.UTF8.GetByteCount(text), lines.Count(line => line[0] != '#'), lines.Count(line => line.StartsWith("# TYPE ", StringComparison.Ordinal)));
    }
}

/// <summary>One repetition: median ms of a scrape called directly and of a GET /metrics over HTTP, and bytes allocated per direct scrape.</summary>
internal sealed record ScrapeRun(double DirectMilliseconds, double HttpMilliseconds, double AllocatedBytes, double OthersCores);

/// <summary>
/// A /metrics scrape of a realistic registry: the silo's scraper and process metrics over
/// <see cref="Registry.Runs"/> training runs of 2 workers and 4 shards, 10 gateway methods × 5 status codes, and
/// 20 grain interfaces called on two silos; timed when called directly and as a GET against Kestrel in this process.
/// </summary>
internal sealed class ScrapeCost : IAsyncDisposable
{
    private readonly PrometheusScraper scraper;
    private readonly IReadOnlyList<KeyValuePair<string, string>> labels;
    private readonly WebApplication web;
    private readonly HttpClient http;

    private ScrapeCost(PrometheusScraper scraper, IReadOnlyList<KeyValuePair<string, string>> labels, WebApplication web, HttpClient http)
    {
        this.scraper = scraper;
        this.labels = labels;
        this.web = web;
        this.http = http;
    }

    public static async Task<ScrapeCost> StartAsync(EchoSilos silos)
    {
        // As the silo application builds them (MetricsHosting): listening from here on, with its silo label.
        var scraper = MetricsHosting.CreateScraper(NullLogger.Instance);
        ProcessMetrics.Start();
        IReadOnlyList<KeyValuePair<string, string>> labels = [new(MetricsHosting.SiloLabel, silos.Caller.Address.ToString())];
        await Registry.FillAsync(silos);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var web = builder.Build();
        web.MapGet(MetricsHosting.Path, (CancellationToken cancellation) => MetricsHosting.ScrapeAsync(scraper, labels, NullLogger.Instance, cancellation));
        await web.StartAsync();
        var http = new HttpClient { BaseAddress = new Uri(web.Urls.Single()) };
        return new ScrapeCost(scraper, labels, web, http);
    }

    /// <summary>A scrape's text now, and its shape, which one over HTTP must share.</summary>
    public async Task<(string Text, ScrapeShape Shape)> SampleAsync()
    {
        var text = await ScrapeAsync();
        var (direct, overHttp) = (ScrapeShape.Of(text), ScrapeShape.Of(await GetAsync()));
        return direct.Samples == overHttp.Samples && direct.Families == overHttp.Families
            ? (text, direct)
            : throw new InvalidOperationException($"a direct scrape gave {direct}, one over HTTP {overHttp}");
    }

    /// <summary><paramref name="scrapes"/> direct scrapes, then as many GETs, after one of each untimed.</summary>
    public async Task<ScrapeRun> MeasureAsync(int scrapes)
    {
        var machine = MachineCpu.Now();
        await ScrapeAsync();
        var direct = new double[scrapes];
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < scrapes; i++) direct[i] = await Samples.TimeAsync(ScrapeAsync);
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;

        await GetAsync();
        var overHttp = new double[scrapes];
        for (var i = 0; i < scrapes; i++) overHttp[i] = await Samples.TimeAsync(GetAsync);
        return new ScrapeRun(1000 * Samples.Median(direct), 1000 * Samples.Median(overHttp), allocated / (double)scrapes, machine.OthersCoresSince());
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        await web.DisposeAsync();
        scraper.Dispose();
    }

    private Task<string> ScrapeAsync() => scraper.ScrapeAsync(labels, CancellationToken.None);

    private async Task<string> GetAsync()
    {
        using var response = await http.GetAsync(MetricsHosting.Path);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }
}

/// <summary>Fills the silo's instruments with what a busy silo would have recorded, through the instruments themselves.</summary>
internal static class Registry
{
    public const int Runs = 4;
    public const int StepsPerRun = 200;
    public const int KeysPerGrainInterface = 3;

    private static readonly string[] Models = ["transformer", "transformer", "lstm", "gru"];

    /// <summary>Ten methods of the gateway's services (two of them streaming), with the prefix the dispatcher labels them by.</summary>
    private static readonly (string Method, bool Streaming)[] GatewayMethods =
    [
        ("olm.v1.SamplingService/Generate", false), ("olm.v1.SamplingService/GenerateStream", true), ("olm.v1.SamplingService/Score", false),
        ("olm.v1.SamplingService/ListModels", false), ("olm.v1.TrainingService/StartRun", false), ("olm.v1.TrainingService/GetRun", false),
        ("olm.v1.TrainingService/ListRuns", false), ("olm.v1.TrainingService/StopRun", false), ("olm.v1.TrainingService/WatchRun", true),
        (GatewayMeters.UnknownMethod, false),
    ];

    private static readonly StatusCode[] Codes = [StatusCode.OK, StatusCode.InvalidArgument, StatusCode.NotFound, StatusCode.Cancelled, StatusCode.Unavailable];

    public static async Task FillAsync(EchoSilos silos)
    {
        var random = new Random(7);
        for (var r = 0; r < Runs; r++)
        {
            var run = new TrainingMeters.RunLabels($"sweep-{r}", Models[r]);
            TrainingMeters.StateChanged(run, RunState.Running);
            for (var step = 1; step <= StepsPerRun; step++)
            {
                var (progress, timings) = Recordings.StepValues(step, random);
                Recordings.Step(run, progress, timings);
            }
            TrainingMeters.Evaluated(run, 1.9 + 0.1 * r);
        }

        foreach (var (method, streaming) in GatewayMethods)
        foreach (var code in Codes)
            for (var call = 0; call < 10; call++)
                Recordings.GatewayCall(method, streaming, code);
        foreach (var model in Models.Distinct())
        {
            GatewayMeters.FirstToken(model, Stopwatch.GetTimestamp());
            GatewayMeters.Streamed(model, 64);
        }

        foreach (var ping in Fleet.Pings)
            for (var key = 0; key < KeysPerGrainInterface; key++)
                for (var call = 0; call < 10; call++)
                    await ping(silos.Caller.GrainFactory, key);
    }
}
