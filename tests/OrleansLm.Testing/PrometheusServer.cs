using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace OrleansLm.Testing;

/// <summary>
/// A private Prometheus server for tests (Debian package prometheus, installed by scripts/setup.sh): it scrapes the
/// given targets every second on loopback, keeps its data in a temporary directory, and answers PromQL through its
/// HTTP API. Disposing kills it and deletes the directory.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    public const string Binary = "/usr/bin/prometheus";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly Process process;
    private readonly DirectoryInfo root;
    private readonly HttpClient http;

    private PrometheusServer(Process process, DirectoryInfo root, Uri address)
    {
        this.process = process;
        this.root = root;
        Address = address;
        http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
    }

    public Uri Address { get; }

    /// <summary>Starts Prometheus scraping <c>/metrics</c> of <paramref name="targets"/> (host:port) as job "orleanslm", and waits until it is ready.</summary>
    public static async Task<PrometheusServer> StartAsync(IReadOnlyList<string> targets, CancellationToken cancellation = default)
    {
        if (!File.Exists(Binary))
            throw new InvalidOperationException($"{Binary} is missing: run scripts/setup.sh (it installs Debian's prometheus)");
        var root = Directory.CreateTempSubdirectory("orleanslm-prometheus-");
        var config = Path.Combine(root.FullName, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: orleanslm
                metrics_path: /metrics
                static_configs:
                  - targets: [{string.Join(", ", targets.Select(t => $"'{t}'"))}]
            """, cancellation);
        var address = new Uri($"http://127.0.0.1:{LoopbackPorts.Free()}/");
        var start = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
                 {
                     $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(root.FullName, "data")}",
                     $"--web.listen-address=127.0.0.1:{address.Port}", "--log.level=warn",
                 })
            start.ArgumentList.Add(argument);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {Binary}");
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) log.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) log.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new PrometheusServer(process, root, address);
        try
        {
            await Eventually.HoldsAsync(async () =>
            {
                if (process.HasExited) throw new InvalidOperationException($"prometheus exited with {process.ExitCode}: {string.Join('\n', log)}");
                try
                {
                    return (await server.http.GetAsync("-/ready", cancellation)).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, StartTimeout, "prometheus is ready");
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>An instant PromQL query; the result vector's samples as (labels, value). A failed query throws with Prometheus' error.</summary>
    public async Task<IReadOnlyList<(JsonObject Labels, double Value)>> QueryAsync(string promql, CancellationToken cancellation = default)
    {
        var data = await ApiAsync($"api/v1/query?query={Uri.EscapeDataString(promql)}", cancellation);
        return [.. data["result"]!.AsArray().Select(r => (r!["metric"]!.AsObject(), Number(r["value"]![1]!)))];
    }

    /// <summary>A range query over the last <paramref name="window"/>, one point a second: each series' labels and values in time order.</summary>
    public async Task<IReadOnlyList<(JsonObject Labels, IReadOnlyList<double> Values)>> QueryRangeAsync(
        string promql, TimeSpan window, CancellationToken cancellation = default)
    {
        var end = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        var start = end - window.TotalSeconds;
        var data = await ApiAsync(
            $"api/v1/query_range?query={Uri.EscapeDataString(promql)}&start={Invariant(start)}&end={Invariant(end)}&step=1", cancellation);
        return [.. data["result"]!.AsArray().Select(r => (r!["metric"]!.AsObject(), (IReadOnlyList<double>)[.. r["values"]!.AsArray().Select(v => Number(v![1]!))]))];
    }

    /// <summary>The scrape targets' health as Prometheus reports it ("up", "down", "unknown") with the last error.</summary>
    public async Task<IReadOnlyList<(string Health, string LastError)>> TargetsAsync(CancellationToken cancellation = default)
    {
        var data = await ApiAsync("api/v1/targets", cancellation);
        return [.. data["activeTargets"]!.AsArray().Select(t => (t!["health"]!.GetValue<string>(), t["lastError"]!.GetValue<string>()))];
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        process.Dispose();
        root.Delete(recursive: true);
    }

    private async Task<JsonNode> ApiAsync(string path, CancellationToken cancellation)
    {
        using var response = await http.GetAsync(path, cancellation);
        var body = await response.Content.ReadFromJsonAsync<JsonObject>(cancellation)
                   ?? throw new InvalidOperationException($"prometheus answered {path} with no body");
        if (body["status"]?.GetValue<string>() != "success")
            throw new InvalidOperationException($"prometheus refused {path}: {body["errorType"]} {body["error"]}");
        return body["data"]!;
    }

    /// <summary>A sample value as the API writes it: a string, with Go's spelling of the infinities.</summary>
    private static double Number(JsonNode value) => value.GetValue<string>() switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        var text => double.Parse(text, CultureInfo.InvariantCulture),
    };

    private static string Invariant(double value) => value.ToString("F3", CultureInfo.InvariantCulture);
}
