using OrleansLm.Model.Optim;
using OrleansLm.Model.Training;
using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Membership;
using OrleansLm.Silo.Grains;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// The training grains on two silos in this process (loopback transport, shared in-memory membership): N workers on
/// batch B/N with K parameter-server shards against the single-process <see cref="Trainer"/> on batch B.
/// </summary>
public sealed class ClusterTrainingTests : IAsyncLifetime
{
    private const string Text = "to be, or not to be, that is the question: whether 'tis nobler in the mind to suffer the slings and arrows ";

    private readonly string corpusPath = Path.Combine(Path.GetTempPath(), $"olm-cluster-{Guid.NewGuid():N}.txt");
    private readonly InMemoryMembershipTable table = new();
    private readonly List<ClusterSilo> silos = [];

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(corpusPath, string.Concat(Enumerable.Repeat(Text, 40)));
        for (var i = 0; i < 2; i++)
        {
            var silo = new ClusterSilo(new ClusterSiloOptions
            {
                ClusterId = "training", ClusterSecret = "cluster-training-test", MembershipTable = table, Roles = [SiloGrains.WorkerRole], Devices = 1,
            }, SiloGrains.Register);
            silos.Add(silo);
            await silo.StartAsync(CancellationToken.None);
        }
        await Task.WhenAll(silos.Select(s => s.Membership.RefreshAsync(CancellationToken.None)));
    }

    public async Task DisposeAsync()
    {
        foreach (var silo in silos) await silo.DisposeAsync();
        File.Delete(corpusPath);
    }

    [Theory]
    [InlineData("transformer")]
    [InlineData("lstm")]
    public async Task TwoWorkersOnTwoSilosReproduceTheSingleProcessTrainer(string family)
    {
        var config = Config(family);
        var expected = SingleProcessLosses(config);

        var run = silos[0].GrainFactory.GetGrain<ITrainingRunGrain>($"equivalence-{family}");
        await run.Start(new RunSpec(ConfigFile.ToJson(config), Workers: 2, ParameterServers: 2));
        var status = await run.WaitForEnd(TimeSpan.FromMinutes(3));

        status.Error.Should().BeNull();
        status.State.Should().Be(RunState.Completed);
        status.Losses.Should().HaveCount(expected.Count);
        for (var step = 0; step < expected.Count; step++)
            status.Losses[step].Should().BeApproximately(expected[step], 1e-4 * Math.Abs(expected[step]), $"step {step}");
        silos.Should().OnlyContain(s => s.Runtime.DeviceActivations == 1, "each silo's one device holds one worker");
        status.ValidationLoss.Should().BeLessThan(expected[0], "the run learnt something");
    }

    [Fact]
    public async Task AStartWhoseWorkersDoNotSplitTheBatchIsRefusedNamingTheField()
    {
        var run = silos[0].GrainFactory.GetGrain<ITrainingRunGrain>("bad-split");
        var start = () => run.Start(new RunSpec(ConfigFile.ToJson(Config("transformer")), Workers: 3, ParameterServers: 1));
        await start.Should().ThrowAsync<ArgumentException>().WithMessage("*spec.workers*batch_size 4*");
        (await run.Status()).State.Should().Be(RunState.NotStarted);
    }

    private RunConfig Config(string family) => new(
        new DataSection(corpusPath, BlockSize: 8, BatchSize: 4, Seed: 7),
        family == "lstm" ? new RecurrentSection(Embedding: 8, Hidden: 16, Layers: 1) : new TransformerSection(Layers: 1, Heads: 2, Dim: 16),
        new OptimizerSection(Lr: 3e-3),
        new ScheduleSection(Warmup: 2),
        new TrainingSection(Steps: 20, EvalEvery: 0, EvalBatches: 2, GradClip: 0.5, Seed: 11));

    internal static List<double> SingleProcessLosses(RunConfig config)
    {
        var (_, corpus) = TrainingRun.LoadData(config.Data);
        List<double> losses = [];
        lock (RunData.ModelBuilding)
        {
            using var model = TrainingRun.BuildModel(config, corpus.VocabularySize);
            using var optimizer = config.OptimizerOrDefault.Build([.. model.Parameters()]);
            var (train, validation) = TrainingRun.BatchSources(config, corpus);
            var training = config.TrainingOrDefault;
            using var trainer = new Trainer(model, optimizer, config.ScheduleOrDefault.Build(config.OptimizerOrDefault.Lr, training.Steps), train, validation,
                training.ToOptions(null) with { ReportEvery = 1, EvalEvery = 0, CheckpointEvery = 0, CheckpointPath = null });
            trainer.Run(new StepLosses(losses));
        }
        return losses;
    }

    private sealed class StepLosses(List<double> losses) : IProgress<TrainingEvent>
    {
        public void Report(TrainingEvent value)
        {
            if (value.Kind == TrainingEventKind.Step) losses.Add(value.Loss);
        }
    }
}
