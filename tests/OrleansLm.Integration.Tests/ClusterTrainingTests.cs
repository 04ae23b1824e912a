using OrleansLm.Model.Training;
using OrleansLm.Silo.Grains;
using OrleansLm.Testing;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// The training grains on two silos in this process (loopback transport, shared in-memory membership): N workers on
/// batch B/N with K parameter-server shards against the single-process <see cref="Trainer"/> on batch B.
/// </summary>
public sealed class ClusterTrainingTests : IAsyncLifetime
{
    private readonly string corpusPath = Path.Combine(Path.GetTempPath(), $"olm-cluster-{Guid.NewGuid():N}.txt");
    private InProcessCluster? cluster;

    private InProcessCluster Cluster => cluster ?? throw new InvalidOperationException("the cluster has not started");

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(corpusPath, TrainingEquivalence.Corpus);
        cluster = await InProcessCluster.StartAsync("training", [InProcessCluster.Worker, InProcessCluster.Worker]);
    }

    public async Task DisposeAsync()
    {
        if (cluster is not null) await cluster.DisposeAsync();
        File.Delete(corpusPath);
    }

    [Theory]
    [InlineData("transformer")]
    [InlineData("lstm")]
    [InlineData("gru")]
    [InlineData("elman")]
    [InlineData("fixedwindow")]
    public async Task TwoWorkersOnTwoSilosReproduceTheSingleProcessTrainer(string family)
    {
        var config = Config(family);
        var expected = TrainingEquivalence.SingleProcessLosses(config);

        var run = Cluster[0].GrainFactory.GetGrain<ITrainingRunGrain>($"equivalence-{family}");
        await run.Start(new RunSpec(ConfigFile.ToJson(config), Workers: 2, ParameterServers: 2));
        var status = await TrainingEquivalence.RunToEndAsync(run, TimeSpan.FromMinutes(3));

        TrainingEquivalence.ShouldReproduce(status, expected);
        status.Workers.Should().Be(2, "each silo's one device held one of the two workers");
        await Eventually.HoldsAsync(() => Cluster.Silos.All(s => s.Runtime.DeviceActivations == 0), TimeSpan.FromSeconds(10),
            "the ended run's workers give their devices back");
    }

    [Fact]
    public async Task AStartWhoseWorkersDoNotSplitTheBatchIsRefusedNamingTheField()
    {
        var run = Cluster[0].GrainFactory.GetGrain<ITrainingRunGrain>("bad-split");
        var start = () => run.Start(new RunSpec(ConfigFile.ToJson(Config("transformer")), Workers: 3, ParameterServers: 1));
        await start.Should().ThrowAsync<ArgumentException>().WithMessage("*spec.workers*batch_size 4*");
        (await run.Status()).State.Should().Be(RunState.NotStarted);
    }

    private RunConfig Config(string family) => TrainingEquivalence.Config(corpusPath, family, steps: 20, batchSize: 4);
}
