using System.Text.Json.Nodes;
using OrleansLm.Cli;
using OrleansLm.Model.Training;
using OrleansLm.Protos.V1;
using static OrleansLm.Integration.Tests.OlmProcess;

namespace OrleansLm.Integration.Tests;

/// <summary><c>olm sweep</c> and <c>olm curve</c> as a user runs them, against a real gateway silo.</summary>
public sealed class SweepCliTests(GatewaySilo silo) : IClassFixture<GatewaySilo>
{
    private const string Grid = """
        models:
          - {name: small, dim: 16}
          - {name: large, dim: 48, layers: 2}
        steps: [20, 40]
        """;

    [Fact]
    public async Task SweepRecordsEveryPointSkipsThemWhenRunAgainAndCurveFitsThem()
    {
        var directory = Directory.CreateDirectory(Path.Combine(silo.Root, "grid")).FullName;
        await File.WriteAllTextAsync(Path.Combine(directory, "base.yaml"), silo.RunYaml(steps: 10, evalEvery: 10));
        var sweepYaml = Path.Combine(directory, "sweep.yaml");
        await File.WriteAllTextAsync(sweepYaml, $"name: grid\nbase_config: base.yaml\n{Grid}");
        var output = Path.Combine(directory, "out");

        var (exitCode, text) = await RunOlm(Gateway(), "sweep", "--config", sweepYaml, "--out", output, "--parallel", "2");

        exitCode.Should().Be(ExitCodes.Ok, text + silo.OutputTail());
        text.Should().Contain("[1/4] grid-small-20").And.Contain("validation loss").And.Contain("4 points completed now");
        var sweepJson = Path.Combine(output, "sweep.json");
        var recorded = await File.ReadAllTextAsync(sweepJson);
        var points = JsonNode.Parse(recorded)!["points"]!.AsArray().Select(p => p!.AsObject()).ToDictionary(p => p["run_id"]!.GetValue<string>());
        points.Keys.Should().Equal("grid-small-20", "grid-small-40", "grid-large-20", "grid-large-40");
        var tokensPerStep = 4 * 32; // batch_size × block_size of GatewaySilo.RunYaml
        foreach (var (id, point) in points)
        {
            point["state"]!.GetValue<string>().Should().Be("completed", id);
            point["tokens"]!.GetValue<long>().Should().Be(point["steps"]!.GetValue<long>() * tokensPerStep, $"{id} trains on batch_size × block_size tokens a step");
            point["compute"]!.GetValue<double>().Should().BeApproximately(point["flops_per_token"]!.GetValue<double>() * point["tokens"]!.GetValue<long>(), 1e-6 * point["compute"]!.GetValue<double>());
            point["flops_per_token"]!.GetValue<double>().Should().BeGreaterThan(6 * point["parameters"]!.GetValue<long>() * 0.5, "about 6·N a token");
            var loss = point["final_validation_loss"]!.GetValue<double>();
            loss.Should().BeInRange(0.1, Math.Log(64), $"{id}'s validation loss is below a uniform guess over the characters");
            var run = await GetRunAsync(id);
            loss.Should().Be(run.Evaluations.Single(e => e.Step == run.TotalSteps).ValidationLoss, "the final loss is the evaluation after the last step");
        }

        // N as the model library counts it for each override, on the corpus the runs train on.
        var baseConfig = ConfigFile.Parse<RunConfig>(silo.RunYaml(steps: 10, evalEvery: 10));
        var (_, corpus) = TrainingRun.LoadData(baseConfig.Data);
        foreach (var (model, section) in new[] { ("small", new TransformerSection(Layers: 1, Heads: 2, Dim: 16)), ("large", new TransformerSection(Layers: 2, Heads: 2, Dim: 48)) })
        {
            using var built = TrainingRun.BuildModel(baseConfig with { Model = section }, corpus.VocabularySize);
            points[$"grid-{model}-20"]["parameters"]!.GetValue<long>().Should().Be(built.ParameterCount, model);
            points[$"grid-{model}-40"]["parameters"]!.GetValue<long>().Should().Be(built.ParameterCount, model);
        }
        double Value(string id, string field) => points[id][field]!.GetValue<double>();
        Value("grid-large-20", "parameters").Should().BeGreaterThan(Value("grid-small-20", "parameters"));
        Value("grid-small-40", "tokens").Should().Be(2 * Value("grid-small-20", "tokens"));
        new[] { "grid-small-20", "grid-small-40", "grid-large-20", "grid-large-40" }.Select(id => Value(id, "compute")).Should().BeInAscendingOrder();

        var runsBefore = await RunCountAsync();
        var (again, againText) = await RunOlm(Gateway(), "sweep", "--config", sweepYaml, "--out", output);
        again.Should().Be(ExitCodes.Ok, againText);
        againText.Split('\n').Count(line => line.Contains("skipped, recorded as completed")).Should().Be(4, againText);
        (await File.ReadAllTextAsync(sweepJson)).Should().Be(recorded, "nothing ran again");
        (await RunCountAsync()).Should().Be(runsBefore);

        var prefix = Path.Combine(directory, "figures", "grid");
        Directory.CreateDirectory(Path.GetDirectoryName(prefix)!);
        var (curved, curveText) = await RunOlm("curve", "--sweep", sweepJson, "--out", prefix, "--json");
        curved.Should().Be(ExitCodes.Ok, curveText);
        var fits = curveText.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonNode.Parse(line)!.AsObject())
            .ToDictionary(line => line["x"]!.GetValue<string>());
        fits.Keys.Should().BeEquivalentTo(["compute", "parameters", "tokens"]);
        // L(N) through each model's longest run, L(D) through the large model's: two points each, on an exact line.
        fits["parameters"]["alpha"]!.GetValue<double>().Should().BeApproximately(
            -Math.Log(Value("grid-large-40", "final_validation_loss") / Value("grid-small-40", "final_validation_loss"))
            / Math.Log(Value("grid-large-40", "parameters") / Value("grid-small-40", "parameters")), 1e-9);
        fits["tokens"]["alpha"]!.GetValue<double>().Should().BeApproximately(
            -Math.Log(Value("grid-large-40", "final_validation_loss") / Value("grid-large-20", "final_validation_loss")) / Math.Log(2), 1e-9);
        foreach (var quantity in new[] { "parameters", "tokens" })
        {
            fits[quantity]["points"]!.GetValue<int>().Should().Be(2);
            fits[quantity]["r_squared"]!.GetValue<double>().Should().BeApproximately(1, 1e-9);
        }
        foreach (var fit in fits.Values.Where(f => f["svg"] is not null))
        {
            (await File.ReadAllTextAsync(fit["svg"]!.GetValue<string>())).Should().StartWith("<?xml").And.Contain("<svg");
            (await File.ReadAllBytesAsync(fit["png"]!.GetValue<string>())).Take(4).Should().Equal(0x89, (byte)'P', (byte)'N', (byte)'G');
        }
        fits["compute"].Should().Match<JsonObject>(f => f["skipped"] != null || f["points"]!.GetValue<int>() >= 2, "the frontier is fitted, or said to be too small");
    }

    [Fact]
    public async Task APointThatFailsIsRecordedWithItsErrorAndTheSweepGoesOnToExitAsFailed()
    {
        var directory = Directory.CreateDirectory(Path.Combine(silo.Root, "failing")).FullName;
        var sweepYaml = Path.Combine(directory, "sweep.yaml");
        var missing = Path.Combine(directory, "no-such-corpus.txt");
        await File.WriteAllTextAsync(sweepYaml, $"name: missing\nbase:\n  data: {{path: {missing}, block_size: 8, batch_size: 2}}\n  training: {{steps: 5}}\n  schedule: {{warmup: 1}}\n{Grid}");

        var (exitCode, text) = await RunOlm(Gateway(), "sweep", "--config", sweepYaml, "--out", directory);

        exitCode.Should().Be(ExitCodes.RunFailed, text);
        var points = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(directory, "sweep.json")))!["points"]!.AsArray();
        points.Should().HaveCount(4, "every point was tried");
        points.Should().OnlyContain(p => p!["state"]!.GetValue<string>() == "failed" && p["error"]!.GetValue<string>().Contains("no-such-corpus.txt"));
        text.Should().Contain("4 failed");
    }

    [Fact]
    public async Task ASweepYamlWithAnUnknownKeyFailsNamingItAndStartsNothing()
    {
        var directory = Directory.CreateDirectory(Path.Combine(silo.Root, "typo")).FullName;
        var sweepYaml = Path.Combine(directory, "sweep.yaml");
        await File.WriteAllTextAsync(sweepYaml, $"name: typo\nbase:\n  data: {{path: {silo.CorpusPath}}}\n{Grid}\nparralel: 2\n");
        var runsBefore = await RunCountAsync();

        var (exitCode, text) = await RunOlm(Gateway(), "sweep", "--config", sweepYaml, "--out", directory);

        exitCode.Should().Be(ExitCodes.BadInput, text);
        text.Should().Contain(sweepYaml).And.Contain("unknown field 'parralel'");
        File.Exists(Path.Combine(directory, "sweep.json")).Should().BeFalse();
        (await RunCountAsync()).Should().Be(runsBefore);
    }

    private Dictionary<string, string?> Gateway() => new() { ["OLM_GATEWAY"] = silo.Address.ToString(), ["OLM_TOKEN"] = silo.AdminToken };

    private async Task<Run> GetRunAsync(string runId)
    {
        using var client = silo.Client();
        return await client.UnaryAsync<Run>("/olm.v1.TrainingService/GetRun", new GetRunRequest { RunId = runId }, silo.AdminToken);
    }

    private async Task<int> RunCountAsync()
    {
        using var client = silo.Client();
        return (await client.UnaryAsync<ListRunsResponse>("/olm.v1.TrainingService/ListRuns", new ListRunsRequest(), silo.AdminToken)).Runs.Count;
    }
}
