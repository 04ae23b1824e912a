using OrleansLm.Model.Training;
using OrleansLm.Model.Training.Parallel;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// One slice of a run's parameters and its optimizer state (<see cref="ParameterShard"/>). Its initial values are
/// the slice of the model the run's seed builds, so every shard, wherever it lives, starts where the single-process
/// trainer does. Gradients for any step but the current one are refused: a late push from a redone step must not mix in.
/// </summary>
public sealed class ParameterServerGrain(RunData data) : Grain, IParameterServerGrain
{
    private ParameterShard? shard;
    private long currentStep;

    public Task Prepare(RunSpec spec)
    {
        var config = RunSpecs.Config(spec);
        var (_, index) = GetCompoundKey();
        var (_, corpus) = data.Load(config.Data);
        float[] initial;
        ParameterLayout layout;
        lock (RunData.ModelBuilding)
        {
            using var model = TrainingRun.BuildModel(config, corpus.VocabularySize);
            layout = ParameterLayout.Of(model);
            initial = layout.Flatten(model);
        }
        var ranges = layout.Split(spec.ParameterServers);
        if (index < 0 || index >= ranges.Count)
            throw new ArgumentException($"parameter-server shard {index} does not exist in a run of {ranges.Count} shards", nameof(spec));
        var range = ranges[(int)index];
        shard?.Dispose();
        shard = new ParameterShard(layout, range, initial.AsSpan((int)range.Start, (int)range.Length), config.OptimizerOrDefault);
        currentStep = 0;
        return Task.CompletedTask;
    }

    public Task<float[]> Pull() => Task.FromResult(Shard.Values());

    public Task Push(long step, float[] gradient, long tokens)
    {
        RequireCurrent(step);
        Shard.Accumulate(gradient, tokens);
        return Task.CompletedTask;
    }

    public Task<double> SquaredGradientNorm(long step)
    {
        RequireCurrent(step);
        return Task.FromResult(Shard.SquaredGradientNorm());
    }

    public Task Apply(long step, double learningRate, double clipCoefficient)
    {
        RequireCurrent(step);
        Shard.Apply(learningRate, clipCoefficient);
        currentStep++;
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        shard?.Dispose();
        shard = null;
        return Task.CompletedTask;
    }

    private ParameterShard Shard => shard ?? throw new InvalidOperationException($"parameter-server shard {GetCompoundKey()} was not prepared for a run");

    private void RequireCurrent(long step)
    {
        if (step != currentStep)
            throw new InvalidOperationException($"parameter-server shard {GetCompoundKey()} is at step {currentStep}, not {step}");
    }
}
