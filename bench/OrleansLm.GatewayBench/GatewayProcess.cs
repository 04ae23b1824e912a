using System.Collections.Concurrent;
using System.Diagnostics;
using OrleansLm.Silo.Gateway;

namespace OrleansLm.GatewayBench;

/// <summary>
/// The silo application (OrleansLm.Silo.dll) in a process of its own, configured as an operator would (OLM_* environment
/// variables, --urls): a cluster of one with in-memory membership on loopback ports the system picks, its gRPC gateway
/// serving the model files of a directory to anonymous callers. <see cref="StartAsync"/> returns once it printed its
/// gateway's URL.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(120);

    private readonly Process process;
    private readonly ConcurrentQueue<string> lines = new();
    private readonly TaskCompletionSource<Uri> ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private GatewayProcess(Process process) => this.process = process;

    public Process Process => process;

    public Uri Address => ready.Task.Result;

    /// <param name="siloDll">The silo application's OrleansLm.Silo.dll; it runs in that directory, beside its appsettings.json.</param>
    /// <param name="settings">Further OLM_* variables: the gateway's batching, say.</param>
    public static async Task<GatewayProcess> StartAsync(string siloDll, string modelDirectory, int torchThreads, IReadOnlyDictionary<string, string> settings)
    {
        siloDll = Path.GetFullPath(siloDll);
        if (!File.Exists(siloDll)) throw new FileNotFoundException($"the silo application {siloDll} is not built (dotnet build silo -c Release)", siloDll);
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", [siloDll, "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(siloDll)!,
        };
        var environment = new Dictionary<string, string>
        {
            ["OLM_Cluster__Listen"] = "127.0.0.1:0",
            ["OLM_Gateway__Listen"] = "http://127.0.0.1:0",
            ["OLM_Gateway__AnonymousSampling"] = "true",
            ["OLM_Gateway__ModelDirectory"] = Path.GetFullPath(modelDirectory),
            ["OLM_Silo__TorchThreads"] = torchThreads.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // Information logs a line per request on some paths; the benchmark wants the silo's output only on failure.
            ["OLM_Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (name, value) in settings) environment[name] = value;
        foreach (var (name, value) in environment) start.Environment[name] = value;

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var gateway = new GatewayProcess(process);
        process.OutputDataReceived += (_, line) => gateway.OnOutput(line.Data);
        process.ErrorDataReceived += (_, line) => gateway.Keep(line.Data);
        process.Exited += (_, _) => gateway.ready.TrySetException(
            new InvalidOperationException($"the silo exited with code {process.ExitCode} before its gateway listened:\n{gateway.Output}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await gateway.ready.Task.WaitAsync(ReadyTimeout);
            return gateway;
        }
        catch (TimeoutException)
        {
            await gateway.DisposeAsync();
            throw new TimeoutException($"the silo printed no {GatewayHosting.GatewayLine.Trim()} line within {ReadyTimeout.TotalSeconds} s:\n{gateway.Output}");
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
    }

    /// <summary>What it printed, standard output and error: for errors.</summary>
    public string Output => string.Join('\n', lines.TakeLast(40));

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        process.Dispose();
    }

    private void OnOutput(string? line)
    {
        Keep(line);
        if (line is not null && line.StartsWith(GatewayHosting.GatewayLine, StringComparison.Ordinal)) ready.TrySetResult(new Uri(line[GatewayHosting.GatewayLine.Length..]));
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        lines.Enqueue(line);
        while (lines.Count > 200) lines.TryDequeue(out _);
    }
}
