using System.Diagnostics;
using OrleansLm.Model.Training;
using OrleansLm.Model.Training.Parallel;
using OrleansLm.Runtime.Grains;
using OrleansLm.Silo.Metrics;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// One slice of a run's parameters and its optimizer state (<see cref="ParameterShard"/>). Its initial values are
/// the slice of the model the run's seed builds, so every shard, wherever it lives, starts where the single-process
/// trainer does. Gradients for any step or attempt but the current one are refused: a late push from an abandoned
/// attempt must not mix in.
/// </summary>
public sealed class ParameterServerGrain(RunData data) : Grain, IParameterServerGrain
{
    private const string StepKey = "olm.step";

    private ParameterShard? shard;
    private long currentStep;
    private long currentAttempt;
    private TimeSpan aggregating;
    private TrainingMeters.RunLabels? labels;

    public Task Prepare(RunSpec spec)
    {
        var (config, layout, range, initial) = Describe(spec);
        Replace(new ParameterShard(layout, range, initial.AsSpan((int)range.Start, (int)range.Length), config.OptimizerOrDefault), 0, 0);
        return Task.CompletedTask;
    }

    public Task Restore(RunSpec spec, CheckpointFile file, long step, long attempt)
    {
        var (config, layout, range, _) = Describe(spec);
        CheckpointFiles.Verify(file);
        var restored = ParameterShard.Load(file.Path, layout, range, config.OptimizerOrDefault);
        if (restored.Metadata.GetValueOrDefault(StepKey) != step.ToString())
        {
            restored.Dispose();
            throw new InvalidDataException($"{file.Path} holds step {restored.Metadata.GetValueOrDefault(StepKey) ?? "(none)"}, the manifest says {step}");
        }
        Replace(restored, step, attempt);
        return Task.CompletedTask;
    }

    public Task<float[]> Pull()
    {
        var values = Shard.Values();
        TrainingMeters.ShardSentValues(labels!, Index, values.Length);
        return Task.FromResult(values);
    }

    public Task Push(long step, long attempt, float[] gradient, long tokens)
    {
        RequireCurrent(step, attempt);
        TrainingMeters.ShardReceivedValues(labels!, Index, gradient.Length);
        Timed(() => Shard.Accumulate(gradient, tokens));
        return Task.CompletedTask;
    }

    public Task<double> SquaredGradientNorm(long step, long attempt)
    {
        RequireCurrent(step, attempt);
        var norm = 0.0;
        Timed(() => norm = Shard.SquaredGradientNorm());
        return Task.FromResult(norm);
    }

    public Task<double> Apply(long step, long attempt, double learningRate, double clipCoefficient)
    {
        RequireCurrent(step, attempt);
        Timed(() => Shard.Apply(learningRate, clipCoefficient));
        var seconds = aggregating.TotalSeconds;
        TrainingMeters.ShardAggregated(labels!, Index, seconds);
        aggregating = TimeSpan.Zero;
        currentStep++;
        return Task.FromResult(seconds);
    }

    public Task Skip(long step, long attempt)
    {
        RequireCurrent(step, attempt);
        Shard.DiscardGradients();
        aggregating = TimeSpan.Zero;
        currentStep++;
        return Task.CompletedTask;
    }

    public Task Abandon(long step, long attempt)
    {
        if (step != currentStep)
            throw new InvalidOperationException($"parameter-server shard {GetCompoundKey()} is at step {currentStep}, not {step}");
        Shard.DiscardGradients();
        aggregating = TimeSpan.Zero;
        currentAttempt = attempt;
        return Task.CompletedTask;
    }

    public Task<CheckpointFile> Checkpoint(long step, string directory)
    {
        if (step != currentStep)
            throw new InvalidOperationException($"parameter-server shard {GetCompoundKey()} is at step {currentStep}, not {step}");
        var path = Path.Combine(directory, CheckpointFiles.ShardFileName((int)GetCompoundKey().Index));
        Shard.Save(path, new Dictionary<string, string> { [StepKey] = step.ToString() });
        return Task.FromResult(CheckpointFiles.Describe(path));
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        shard?.Dispose();
        shard = null;
        return Task.CompletedTask;
    }

    /// <summary>The run's configuration, layout, this shard's range, and the initial values of the model the run's seed builds.</summary>
    private (RunConfig Config, ParameterLayout Layout, ShardRange Range, float[] Initial) Describe(RunSpec spec)
    {
        var config = RunSpecs.Config(spec);
        var (runId, index) = GetCompoundKey();
        labels = RunSpecs.Labels(runId, spec);
        var (_, corpus) = data.Load(config.Data);
        using var model = TrainingRun.BuildModel(config, corpus.VocabularySize);
        var layout = ParameterLayout.Of(model);
        var initial = layout.Flatten(model);
        var ranges = layout.Split(spec.ParameterServers);
        if (index < 0 || index >= ranges.Count)
            throw new ArgumentException($"parameter-server shard {index} does not exist in a run of {ranges.Count} shards (spec.parameter_servers)", nameof(spec));
        return (config, layout, ranges[(int)index], initial);
    }

    private void Replace(ParameterShard next, long step, long attempt)
    {
        shard?.Dispose();
        shard = next;
        (currentStep, currentAttempt, aggregating) = (step, attempt, TimeSpan.Zero);
    }

    private void Timed(Action action)
    {
        var started = Stopwatch.GetTimestamp();
        action();
        aggregating += Stopwatch.GetElapsedTime(started);
    }

    private long Index => GetCompoundKey().Index;

    private ParameterShard Shard => shard ?? throw new InvalidOperationException($"parameter-server shard {GetCompoundKey()} was not prepared for a run");

    private void RequireCurrent(long step, long attempt)
    {
        if (step != currentStep || attempt != currentAttempt)
            throw new InvalidOperationException(
                $"parameter-server shard {GetCompoundKey()} is at step {currentStep} attempt {currentAttempt}, not step {step} attempt {attempt}");
    }
}
