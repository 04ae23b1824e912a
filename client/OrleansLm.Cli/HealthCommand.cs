using System.CommandLine;
using OrleansLm.Client;
using OrleansLm.Protos.V1;
using Spectre.Console;

namespace OrleansLm.Cli;

/// <summary><c>olm health</c>: asks a silo whether it is serving.</summary>
public static class HealthCommand
{
    public static Command Create()
    {
        var url = new Option<string>("--url") { Description = "the silo's base URL", DefaultValueFactory = _ => "http://127.0.0.1:5080/" };
        var timeout = new Option<double>("--timeout") { Description = "seconds to wait for an answer", DefaultValueFactory = _ => 10 };
        var command = new Command("health", "Show a silo's health report") { url, timeout };
        command.SetAction((parse, cancellation) => RunAsync(parse.GetValue(url)!, parse.GetValue(timeout), cancellation));
        return command;
    }

    private static async Task<int> RunAsync(string urlText, double timeoutSeconds, CancellationToken cancellation)
    {
        if (!Uri.TryCreate(urlText, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            return Cli.Fail($"--url: '{urlText}' is not an absolute http(s) URL");
        if (timeoutSeconds <= 0) return Cli.Fail("--timeout: must be positive");
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(timeoutSeconds) };
        try
        {
            var health = await new SiloClient(http).GetHealthAsync(cancellation);
            var table = new Table().AddColumns("silo", "status", "version", "libtorch", "threads", "CUDA devices");
            table.AddRow(health.SiloName, health.Status.ToString(), health.Version, health.TorchVersion,
                health.TorchThreads.ToString(), health.CudaDevices.ToString());
            AnsiConsole.Write(table);
            if (health.Detail.Length > 0) AnsiConsole.MarkupLineInterpolated($"[yellow]{health.Detail}[/]");
            return health.Status == SiloHealth.Types.Status.Serving ? ExitCodes.Ok : ExitCodes.NotServing;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or SiloClientException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error[/]: cannot get health from {url}: {e.Message}");
            return ExitCodes.Unavailable;
        }
    }
}
