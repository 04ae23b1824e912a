using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace OrleansLm.Integration.Tests;

/// <summary>Runs the real <c>olm</c> executable as a child process, as a user would.</summary>
public partial class CliProcessTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task DemoTrainsOnAGivenCorpusWithFallingLossAndPrintsASample()
    {
        var corpus = Path.GetTempFileName();
        try
        {
            var line = "the quick brown fox jumps over the lazy dog. ";
            await File.WriteAllTextAsync(corpus, string.Concat(Enumerable.Repeat(line, 400)));
            var (exitCode, output) = await RunOlm("demo", "--corpus", corpus, "--steps", "400", "--threads", "1");

            exitCode.Should().Be(0, output);
            var losses = LossLine().Matches(output).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
            losses.Should().HaveCount(4, output);
            losses[^1].Should().BeLessThan(losses[0] * 0.5, "a repeated sentence is easy to learn: " + output);
            output.Should().Contain("sample");
        }
        finally
        {
            File.Delete(corpus);
        }
    }

    [Fact]
    public async Task DemoRejectsAMissingCorpusWithExitCodeTwo()
    {
        var (exitCode, output) = await RunOlm("demo", "--corpus", "/nonexistent/corpus.txt");
        exitCode.Should().Be(2);
        output.Should().Contain("--corpus").And.Contain("/nonexistent/corpus.txt");
    }

    [Fact]
    public async Task HealthAgainstAClosedPortExitsUnavailable()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var (exitCode, output) = await RunOlm("health", "--url", $"http://127.0.0.1:{port}/", "--timeout", "5");
        exitCode.Should().Be(3, output);
        output.Should().Contain("cannot get health");
    }

    private static async Task<(int ExitCode, string Output)> RunOlm(params string[] arguments)
    {
        var olm = Path.Combine(AppContext.BaseDirectory, "olm.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(olm);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"olm {string.Join(' ', arguments)} did not finish in {Limit}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    [GeneratedRegex(@"step +\d+/\d+ +loss ([0-9.]+)")]
    private static partial Regex LossLine();
}
