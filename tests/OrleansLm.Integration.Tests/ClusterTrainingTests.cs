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
    private readonly string corpusPath = Path.Combine(Path.GetTempPath(), $"olm-cluster-{Guid.NewGuid():N}.txt");
    private readonly InMemoryMembershipTable table = new();
    private readonly List<ClusterSilo> silos = [];

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(corpusPath, TrainingEquivalence.Corpus);
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
    [InlineData("gru")]
    [InlineData("elman")]
    [InlineData("fixedwindow")]
    public async Task TwoWorkersOnTwoSilosReproduceTheSingleProcessTrainer(string family)
    {
        var config = Config(family);
        var expected = TrainingEquivalence.SingleProcessLosses(config);

        var run = silos[0].GrainFactory.GetGrain<ITrainingRunGrain>($"equivalence-{family}");
        await run.Start(new RunSpec(ConfigFile.ToJson(config), Workers: 2, ParameterServers: 2));
        var status = await TrainingEquivalence.RunToEndAsync(run, TimeSpan.FromMinutes(3));

        TrainingEquivalence.ShouldReproduce(status, expected);
        silos.Should().OnlyContain(s => s.Runtime.DeviceActivations == 1, "each silo's one device holds one worker");
    }

    [Fact]
    public async Task AStartWhoseWorkersDoNotSplitTheBatchIsRefusedNamingTheField()
    {
        var run = silos[0].GrainFactory.GetGrain<ITrainingRunGrain>("bad-split");
        var start = () => run.Start(new RunSpec(ConfigFile.ToJson(Config("transformer")), Workers: 3, ParameterServers: 1));
        await start.Should().ThrowAsync<ArgumentException>().WithMessage("*spec.workers*batch_size 4*");
        (await run.Status()).State.Should().Be(RunState.NotStarted);
    }

    private RunConfig Config(string family) => TrainingEquivalence.Config(corpusPath, family, steps: 20, batchSize: 4);
}
