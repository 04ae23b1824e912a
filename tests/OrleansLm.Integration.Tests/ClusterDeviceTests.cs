using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;
using OrleansLm.Silo.Grains;
using OrleansLm.Testing;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// training.device and training.precision in a cluster run, on silos without a GPU (CI's): workers honour them, or fail
/// the run with the field's name; and the GPU leases that tell each worker which of its silo's GPUs it holds.
/// </summary>
public sealed class ClusterDeviceTests : IAsyncLifetime
{
    private readonly string corpusPath = Path.Combine(Path.GetTempPath(), $"olm-devices-{Guid.NewGuid():N}.txt");
    private InProcessCluster? cluster;

    private InProcessCluster Cluster => cluster ?? throw new InvalidOperationException("the cluster has not started");

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(corpusPath, TrainingEquivalence.Corpus);
        cluster = await InProcessCluster.StartAsync("devices", [InProcessCluster.Worker, InProcessCluster.Worker]);
    }

    public async Task DisposeAsync()
    {
        if (cluster is not null) await cluster.DisposeAsync();
        File.Delete(corpusPath);
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

    [Fact]
    public void GpuLeasesHandOutTheLowestFreeGpuAndTakeItBack()
    {
        var leases = new GpuLeases(3);
        (leases.Claim(), leases.Claim(), leases.Claim()).Should().Be((0, 1, 2));
        FluentActions.Invoking(leases.Claim).Should().Throw<InvalidOperationException>().WithMessage("all 3 GPUs of this silo are held*Cluster:Devices*");
        leases.Release(1);
        leases.Claim().Should().Be(1, "a released GPU is the lowest free one");
        leases.Release(0);
        FluentActions.Invoking(() => leases.Release(0)).Should().Throw<InvalidOperationException>().WithMessage("GPU 0 is not held");
        FluentActions.Invoking(() => leases.Release(3)).Should().Throw<InvalidOperationException>();
        FluentActions.Invoking(new GpuLeases(0).Claim).Should().Throw<InvalidOperationException>().WithMessage("*no GPU*");
        FluentActions.Invoking(() => new GpuLeases(-1)).Should().Throw<ArgumentOutOfRangeException>();
    }

    private RunConfig Config(TrainingSection training) =>
        TrainingEquivalence.Config(corpusPath, "transformer", steps: (int)training.Steps, batchSize: 4) with { Training = training };
}
