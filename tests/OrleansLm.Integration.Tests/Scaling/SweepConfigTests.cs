using System.Text.Json.Nodes;
using OrleansLm.Cli.Scaling;
using OrleansLm.Model.Training;

namespace OrleansLm.Integration.Tests.Scaling;

/// <summary>sweep.yaml: the grid of runs it describes, and the errors that name what is wrong before anything runs.</summary>
public sealed class SweepConfigTests : IDisposable
{
    private const string BaseRun = """
        data: {path: /data/corpus.txt, tokenizer: char, block_size: 32, batch_size: 8}
        model: {family: transformer, layers: 1, heads: 2, dim: 32, dropout: 0.1}
        optimizer: {lr: 1.0e-2}
        schedule: {warmup: 5}
        training: {steps: 100, eval_every: 50}
        """;

    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("olm-sweep-config-");

    public void Dispose() => directory.Delete(recursive: true);

    [Fact]
    public void EachPointIsTheBaseWithItsModelOverrideAndItsSteps()
    {
        File.WriteAllText(Path.Combine(directory.FullName, "base.yaml"), BaseRun);
        var (sweep, runs) = Load("""
            name: grid
            base_config: base.yaml
            models:
              - {name: d16, dim: 16}
              - {name: d64, dim: 64, layers: 2, heads: 4}
              - {name: lstm, family: rnn, cell: lstm, hidden: 32}
            steps: [20, 40]
            workers: 2
            """);

        (sweep.Workers, sweep.ParameterServers).Should().Be((2, 1));
        runs.Select(r => r.RunId).Should().Equal("grid-d16-20", "grid-d16-40", "grid-d64-20", "grid-d64-40", "grid-lstm-20", "grid-lstm-40");
        var d64 = ConfigFile.Parse<RunConfig>(runs.Single(r => r.RunId == "grid-d64-40").Config);
        d64.ModelOrDefault.Should().Be(new TransformerSection(Layers: 2, Heads: 4, Dim: 64, Dropout: 0.1), "the override's fields over the base's, the rest kept");
        d64.TrainingOrDefault.Steps.Should().Be(40);
        d64.TrainingOrDefault.EvalEvery.Should().Be(50);
        d64.Data.Should().Be(new DataSection("/data/corpus.txt", BlockSize: 32, BatchSize: 8));
        d64.OptimizerOrDefault.Lr.Should().Be(1e-2);
        ConfigFile.Parse<RunConfig>(runs.Single(r => r.RunId == "grid-lstm-20").Config).ModelOrDefault
            .Should().Be(new RecurrentSection(Cell: "lstm", Hidden: 32), "another family replaces the section: no dim or heads of the Transformer");
        runs.Select(r => (r.Model, r.Steps)).Should().Equal(("d16", 20), ("d16", 40), ("d64", 20), ("d64", 40), ("lstm", 20), ("lstm", 40));
    }

    [Fact]
    public void WithoutModelsOrStepsTheBaseIsTheOnlyModelAndItsStepsTheOnlyBudget()
    {
        var (_, runs) = Load($"name: one\nbase:\n{Indented(BaseRun)}");

        runs.Should().ContainSingle().Which.Should().Match<PlannedRun>(r => r.RunId == "one-base-100" && r.Model == "base" && r.Steps == 100);
        JsonNode.Parse(runs[0].Config)!["model"]!["dim"]!.GetValue<long>().Should().Be(32);
    }

    [Theory]
    [InlineData("modles: []", "unknown field 'modles'")]
    [InlineData("models:\n  - {name: d16, dimm: 16}", "run grid-d16-100 (models[0], 100 steps): unknown field 'model.dimm'")]
    [InlineData("models:\n  - {name: d16, heads: 3}", "run grid-d16-100 (models[0], 100 steps): model: ")]
    [InlineData("models:\n  - {dim: 16}", "models[0].name: required")]
    [InlineData("models:\n  - {name: a, dim: 16}\n  - {name: a, dim: 32}", "models[1].name: 'a' is used twice")]
    [InlineData("models:\n  - {name: 'a/b', dim: 16}", "models[0].name: must be letters")]
    [InlineData("steps: [10, 0]", "steps[1]: must be at least 1")]
    [InlineData("steps: [10, 10]", "steps[1]: 10 is listed twice")]
    [InlineData("steps: [3]", "run grid-base-3 (models[0], 3 steps): schedule.decay_steps")]
    [InlineData("workers: 3", "workers: data.batch_size (8) must divide by it (3)")]
    [InlineData("parameter_servers: 0", "parameter_servers: must be at least 1")]
    [InlineData("base_config: other.yaml", "base: give either base")]
    public void AMistakeIsNamedWithItsPathBeforeAnythingRuns(string line, string message)
    {
        var load = () => Load($"name: grid\nbase:\n{Indented(BaseRun)}\n{line}");

        load.Should().Throw<ConfigException>().Which.Message.Should().StartWith(Path.Combine(directory.FullName, "sweep.yaml") + ": ").And.Contain(message);
    }

    [Fact]
    public void AMissingBaseConfigIsNamed()
    {
        var load = () => Load("name: grid\nbase_config: missing.yaml");

        load.Should().Throw<ConfigException>().WithMessage("*base_config: cannot read*missing.yaml*");
    }

    private (SweepConfig Sweep, IReadOnlyList<PlannedRun> Runs) Load(string yaml)
    {
        var path = Path.Combine(directory.FullName, "sweep.yaml");
        File.WriteAllText(path, yaml);
        return SweepConfig.Load(path);
    }

    private static string Indented(string yaml) => string.Join('\n', yaml.Split('\n').Select(line => "  " + line));
}
