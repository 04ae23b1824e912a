using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace OrleansLm.Integration.Tests;

/// <summary>Runs the real <c>olm</c> executable as a child process, as a user would.</summary>
public partial class CliProcessTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task TrainSampleAndScoreAgainstTheCheckpointItWrote()
    {
        var directory = Directory.CreateTempSubdirectory("olm-cli-").FullName;
        try
        {
            var corpus = Path.Combine(directory, "corpus.txt");
            await File.WriteAllTextAsync(corpus, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 200)));
            var checkpoint = Path.Combine(directory, "run.safetensors");
            var config = Path.Combine(directory, "run.yaml");
            await File.WriteAllTextAsync(config, $"""
                data:
                  path: {corpus}
                  block_size: 32
                  batch_size: 8
                model:
                  family: transformer
                  layers: 1
                  heads: 2
                  dim: 32
                optimizer:
                  lr: 1.0e-2
                training:
                  steps: 120
                  eval_every: 40
                  eval_batches: 4
                  threads: 1
                  checkpoint: {checkpoint}
                """);

            var (exitCode, output) = await RunOlm("train", "--config", config, "--json");
            exitCode.Should().Be(0, output);
            var events = output.Split('\n').Where(l => l.StartsWith('{')).Select(l => JsonNode.Parse(l)!).ToList();
            var validation = events.Where(e => e["event"]!.GetValue<string>() == "evaluation").Select(e => e["validation_loss"]!.GetValue<double>()).ToList();
            validation.Should().HaveCount(3);
            validation[^1].Should().BeLessThan(validation[0], output);
            events.Last()["event"]!.GetValue<string>().Should().Be("done");

            var (first, firstText) = await RunOlm("sample", "--checkpoint", checkpoint, "--prompt", "the ", "--max-tokens", "60", "--seed", "4");
            var (_, secondText) = await RunOlm("sample", "--checkpoint", checkpoint, "--prompt", "the ", "--max-tokens", "60", "--seed", "4");
            first.Should().Be(0, firstText);
            firstText.Should().StartWith("the ").And.Be(secondText, "the same seed gives the same text");

            var (scored, scoreText) = await RunOlm("score", "--checkpoint", checkpoint, "--text", "the quick brown fox jumps over the lazy dog.");
            scored.Should().Be(0, scoreText);
            var perplexity = double.Parse(Perplexity().Match(scoreText).Groups[1].Value, CultureInfo.InvariantCulture);
            perplexity.Should().BeLessThan(5, "a memorised sentence is unsurprising: " + scoreText);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task TrainRejectsABadConfigNamingTheFieldWithExitCodeTwo()
    {
        var config = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(config, "data:\n  path: /tmp/x\ntraining:\n  stepz: 5\n");
            var (exitCode, output) = await RunOlm("train", "--config", config);
            exitCode.Should().Be(2, output);
            output.Should().Contain("unknown field 'training.stepz'");
        }
        finally
        {
            File.Delete(config);
        }
    }

    [Fact]
    public async Task SampleWithoutACheckpointExitsTwoNamingTheOption()
    {
        var (exitCode, output) = await RunOlm("sample", "--checkpoint", "/nonexistent/run.safetensors");
        exitCode.Should().Be(2);
        output.Should().Contain("--checkpoint").And.Contain("/nonexistent/run.safetensors");
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

    [GeneratedRegex(@"perplexity ([0-9.]+)")]
    private static partial Regex Perplexity();
}
