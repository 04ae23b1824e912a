using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;
using OrleansLm.Silo.Grains;
using OrleansLm.Testing;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// The training grains on two silos in this process (loopback transport, shared in-memory membership): N workers on
/// batch B/N with K parameter-server shards against the single-process <see cref="Trainer"/> on batch B; and
/// training.device and training.precision on silos without a GPU (CI's): workers honour them, or fail the run naming the field.
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

    [Fact]
    public async Task AnAutoDeviceBFloat16RunFollowsTheSingleProcessBFloat16Trainer()
    {
        var config = Config(new TrainingSection(Steps: 12, EvalEvery: 0, EvalBatches: 2, GradClip: 0.5, Seed: 11, Device: "auto", Precision: Precision.Bf16));
        var expected = TrainingEquivalence.SingleProcessLosses(config);
        var fp32 = TrainingEquivalence.SingleProcessLosses(config with { Training = config.TrainingOrDefault with { Precision = Precision.Fp32 } });
        expected.Should().NotEqual(fp32, "the single-process run's forward pass really ran in BFloat16");

        var run = Cluster[0].GrainFactory.GetGrain<ITrainingRunGrain>("auto-bf16");
        await run.Start(new RunSpec(ConfigFile.ToJson(config), Workers: 2, ParameterServers: 2));
        var status = await TrainingEquivalence.RunToEndAsync(run, TimeSpan.FromMinutes(2));

        status.Error.Should().BeNull();
        status.State.Should().Be(RunState.Completed);
        status.Losses.Should().HaveCount(expected.Count);
        // Half batches round their BFloat16 products in other orders than the whole batch does: BFloat16's tolerance, not Float32's.
        for (var step = 0; step < expected.Count; step++)
            status.Losses[step].Should().BeApproximately(expected[step], 1e-3 * expected[step], $"step {step}");
    }

    [Fact]
    public async Task ACudaRunTrainsOnGpuSilosAndFailsNamingTheFieldOnSilosWithout()
    {
        var config = Config(new TrainingSection(Steps: 5, EvalEvery: 0, EvalBatches: 2, Device: "cuda"));
        var run = Cluster[0].GrainFactory.GetGrain<ITrainingRunGrain>("cuda");
        await run.Start(new RunSpec(ConfigFile.ToJson(config), Workers: 2, ParameterServers: 1));
        var status = await TrainingEquivalence.RunToEndAsync(run, TimeSpan.FromMinutes(1));

        if (LibTorch.IsCudaAvailable)
        {
            status.State.Should().Be(RunState.Completed);
        }
        else
        {
            status.State.Should().Be(RunState.Failed);
            status.Error.Should().Contain("training.device: cuda needs a CUDA device");
        }
        await Eventually.HoldsAsync(() => Cluster.Silos.All(s => s.Runtime.DeviceActivations == 0), TimeSpan.FromSeconds(10),
            "the run's workers give their devices back");
    }

    private RunConfig Config(string family) => TrainingEquivalence.Config(corpusPath, family, steps: 20, batchSize: 4);

    private RunConfig Config(TrainingSection training) =>
        TrainingEquivalence.Config(corpusPath, "transformer", steps: (int)training.Steps, batchSize: 4) with { Training = training };
}
