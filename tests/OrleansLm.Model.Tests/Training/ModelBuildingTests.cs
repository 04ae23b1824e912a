using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;
using OrleansLm.Model.Training.Parallel;

namespace OrleansLm.Model.Tests.Training;

/// <summary>
/// A seeded build must give the same initial values whatever other threads of the process do meanwhile: grains of a
/// silo build and validate models concurrently, and data-parallel equivalence rests on every shard and worker starting
/// from the values one process would.
/// </summary>
[Collection(NativeStateCollection.Name)]
public sealed class ModelBuildingTests
{
    [Fact]
    public void SeededBuildsAreIdenticalWhileOtherThreadsValidateConfigs()
    {
        var config = new RunConfig(
            new DataSection("unused.txt", BlockSize: 16, BatchSize: 4),
            new TransformerSection(Layers: 2, Heads: 2, Dim: 32),
            new OptimizerSection(),
            new ScheduleSection(),
            new TrainingSection(Seed: 11));
        var reference = Initial(config);

        var stop = false;
        var validations = new int[2];
        // Validating a config builds a probe model, which draws from libtorch's process-wide generator.
        var validators = validations.Select((_, i) => new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                config.Validate();
                Interlocked.Increment(ref validations[i]);
            }
        })).ToArray();
        foreach (var validator in validators) validator.Start();
        try
        {
            SpinWait.SpinUntil(() => validations.All(count => Volatile.Read(ref count) > 0), TimeSpan.FromSeconds(30))
                .Should().BeTrue("the validators start before the builds");
            for (var build = 0; build < 40; build++)
                Initial(config).Should().Equal(reference, $"build {build} started from the seed's values");
        }
        finally
        {
            Volatile.Write(ref stop, true);
            foreach (var validator in validators) validator.Join();
        }
    }

    private static float[] Initial(RunConfig config)
    {
        using var model = TrainingRun.BuildModel(config, vocabularySize: 40);
        return ParameterLayout.Of(model).Flatten(model);
    }
}
