using OrleansLm.Silo.Hosting;

namespace OrleansLm.Silo.Metrics;

/// <summary>
/// Adds metrics to the silo application: an OpenTelemetry MeterProvider over every meter whose name starts with
/// <see cref="MeterPrefix"/>, the <see cref="ProcessMetrics"/>, and GET <see cref="Path"/> in the Prometheus text format
/// on the silo's own HTTP/1.1 URLs, every series labelled silo="&lt;address&gt;" once the silo has joined its cluster.
/// The gRPC gateway's port does not serve it: the gateway takes every request that reaches that port.
/// </summary>
public static class MetricsHosting
{
    public const string Path = "/metrics";

    public const string MeterPrefix = "OrleansLm";

    public const string SiloLabel = "silo";

    private const string FailureContentType = "text/plain; charset=utf-8";

    public static WebApplicationBuilder AddMetrics(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(services => CreateScraper(services.GetRequiredService<ILogger<PrometheusScraper>>()));
        return builder;
    }

    /// <summary>The scraper the silo serves: every meter named <see cref="MeterPrefix"/>*, listened to from now on.</summary>
    public static PrometheusScraper CreateScraper(ILogger logger) => new([MeterPrefix + "*"], logger);

    public static WebApplication MapMetrics(this WebApplication app)
    {
        // Built now rather than at the first scrape, so that counters count from the start.
        var scraper = app.Services.GetRequiredService<PrometheusScraper>();
        ProcessMetrics.Start();
        var cluster = app.Services.GetRequiredService<ClusterHost>();
        var logger = app.Services.GetRequiredService<ILogger<PrometheusScraper>>();
        app.MapGet(Path, (CancellationToken cancellation) => ScrapeAsync(scraper, SiloLabels(cluster), logger, cancellation));
        return app;
    }

    /// <summary>One scrape as an HTTP response; a failed scrape is logged and answered with HTTP 500 and a plain message.</summary>
    public static async Task<IResult> ScrapeAsync(
        PrometheusScraper scraper, IReadOnlyList<KeyValuePair<string, string>> constantLabels, ILogger logger, CancellationToken cancellation)
    {
        try
        {
            return Results.Text(await scraper.ScrapeAsync(constantLabels, cancellation), PrometheusText.ContentType);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The scraper hung up while waiting for its turn: nobody reads an answer.
            return Results.Empty;
        }
        catch (Exception e)
        {
            logger.LogError(e, "Metrics scrape failed");
            return Results.Text($"metrics collection failed: {e.Message}\n", FailureContentType, statusCode: StatusCodes.Status500InternalServerError);
        }
    }

    /// <summary>The silo's address is known only once it has joined (its port may be chosen then), so it is read at each scrape.</summary>
    private static IReadOnlyList<KeyValuePair<string, string>> SiloLabels(ClusterHost cluster) =>
        cluster.Address is { } address ? [new(SiloLabel, address.ToString())] : [];
}
