using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using OrleansLm.Model.Models;
using OrleansLm.Model.Text;
using static OrleansLm.Integration.Tests.OlmProcess;

namespace OrleansLm.Integration.Tests;

/// <summary>Runs the real <c>olm</c> executable as a child process, as a user would.</summary>
public partial class CliProcessTests
{
    [Fact]
    public Task TrainSampleAndScoreAgainstTheCheckpointItWrote() => InRunDirectory(
        string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 200)), "run.safetensors", async (corpus, checkpoint, config) =>
        {
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
        });

    [Fact]
    public Task SampleAndScoreAnNGramModelThatTrainWrote() => InRunDirectory(
        string.Concat(Enumerable.Repeat("the cat sat on the mat. the dog sat on the log. ", 50)), "run.ngram", async (corpus, checkpoint, config) =>
        {
            await File.WriteAllTextAsync(config, $"""
                data:
                  path: {corpus}
                model:
                  family: ngram
                  order: 3
                  smoothing: kneser_ney
                training:
                  checkpoint: {checkpoint}
                """);

            var (exitCode, output) = await RunOlm("train", "--config", config, "--json");
            exitCode.Should().Be(0, output);
            JsonNode.Parse(output.Split('\n').Last(l => l.StartsWith('{')))!["family"]!.GetValue<string>().Should().Be("NGram");

            var (first, firstText) = await RunOlm("sample", "--checkpoint", checkpoint, "--prompt", "the ", "--max-tokens", "40", "--seed", "4");
            var (_, secondText) = await RunOlm("sample", "--checkpoint", checkpoint, "--prompt", "the ", "--max-tokens", "40", "--seed", "4");
            first.Should().Be(0, firstText);
            firstText.Should().StartWith("the ").And.Be(secondText, "the same seed gives the same text");
            firstText.TrimEnd('\n').Length.Should().Be("the ".Length + 40, "a character model writes one character per token");

            var (beamed, beamText) = await RunOlm("sample", "--checkpoint", checkpoint, "--prompt", "the c", "--max-tokens", "8", "--beam", "3", "--json");
            beamed.Should().Be(0, beamText);
            var beam = JsonNode.Parse(beamText)!;
            var continued = "the c" + beam["text"]!.GetValue<string>();
            var corpusText = await File.ReadAllTextAsync(corpus);
            Enumerable.Range(0, continued.Length - 2).Select(i => continued.Substring(i, 3))
                .Should().OnlyContain(trigram => corpusText.Contains(trigram), $"the likeliest text strings seen trigrams: '{continued}'");
            beam["log_probs"]!.AsArray().Select(p => p!.GetValue<double>()).Should().HaveCount(8).And.OnlyContain(p => p <= 0 && double.IsFinite(p));

            const string text = "the dog sat on the mat.";
            var (scored, scoreText) = await RunOlm("score", "--checkpoint", checkpoint, "--text", text);
            scored.Should().Be(0, scoreText);
            var perplexity = double.Parse(Perplexity().Match(scoreText).Groups[1].Value, CultureInfo.InvariantCulture);
            // The same perplexity from the model file directly: every token after the first, given its two predecessors.
            var model = NGramLm.Load(checkpoint);
            var ids = ITokenizer.Load(checkpoint + ".tokenizer.json").Encode(text);
            var surprisal = Enumerable.Range(1, ids.Length - 1).Average(t => -Math.Log(model.Probability(ids[Math.Max(0, t - 2)..t], ids[t])));
            perplexity.Should().BeApproximately(Math.Exp(surprisal), 2e-3, scoreText);
            perplexity.Should().BeLessThan(2, "the text recombines memorised trigrams");

            File.Delete(checkpoint + ".tokenizer.json");
            var (missing, missingText) = await RunOlm("score", "--checkpoint", checkpoint, "--text", text);
            missing.Should().Be(2, missingText);
            missingText.Should().Contain("--checkpoint").And.Contain(checkpoint + ".tokenizer.json");
        });

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

    // A fresh directory holding the corpus, for a test given the corpus, checkpoint and run.yaml paths; deleted after.
    private static async Task InRunDirectory(string corpusText, string checkpointName, Func<string, string, string, Task> test)
    {
        var directory = Directory.CreateTempSubdirectory("olm-cli-").FullName;
        try
        {
            var corpus = Path.Combine(directory, "corpus.txt");
            await File.WriteAllTextAsync(corpus, corpusText);
            await test(corpus, Path.Combine(directory, checkpointName), Path.Combine(directory, "run.yaml"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [GeneratedRegex(@"perplexity ([0-9.]+)")]
    private static partial Regex Perplexity();
}
