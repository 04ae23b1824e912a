using System.Diagnostics;
using OrleansLm.Bench;
using OrleansLm.Model.Models;
using OrleansLm.Model.Optim;
using OrleansLm.Model.Text;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;
using OrleansLm.Model.Training.Parallel;

namespace OrleansLm.TrainingBench;

/// <summary>
/// The data-parallel pieces of one step timed directly on this thread, without grains or transport, with one shard
/// holding all P parameters: the shard copying its values out (a pull's source side), a replica loading them (a pull's
/// destination side), the replica computing a batch part's gradient (forward and backward as it reports them, and in
/// total: the batch to tensors and the gradient copied out into the shard's slice included), and the shard summing N
/// contributions, taking the squared norm and applying the optimizer; beside them, the single-process trainer's own
/// update with the same gradient (clipping and the optimizer step on the model's parameters), which a shard's norm and
/// apply replace. Medians over the repetitions, in seconds.
/// </summary>
internal sealed record LocalCosts(
    double Values, double Load, double Forward, double Backward, double Gradient, double Accumulate, double Norm, double Apply, double TrainerUpdate)
{
    private const int WarmUp = 3;

    /// <param name="config">The cluster run's configuration: its batch is split into <paramref name="workers"/> parts.</param>
    public static LocalCosts Measure(RunConfig config, Corpus corpus, int workers, int repetitions)
    {
        using var model = TrainingRun.BuildModel(config, corpus.VocabularySize);
        var layout = ParameterLayout.Of(model);
        var range = layout.Split(1)[0];
        using var replica = new DataParallelReplica(model, layout, [range]);
        using var shard = new ParameterShard(layout, range, layout.Flatten(model), config.OptimizerOrDefault);
        using var optimizer = config.OptimizerOrDefault.Build([.. model.Parameters()]);
        var train = TrainingRun.BatchSources(config, corpus).Train;

        var samples = new List<LocalCosts>();
        for (var step = 0; step < WarmUp + repetitions; step++)
        {
            var values = Timed(shard.Values, out var valuesSeconds);
            Timed(() => replica.LoadShard(0, values), out var loadSeconds);
            var gradients = Timed(() => replica.ComputeGradients(step, 0, BatchTokens.Of(train, step, 0, workers)), out var gradientSeconds);
            Timed(() =>
            {
                for (var worker = 0; worker < workers; worker++) shard.Accumulate(gradients.Slices[0], gradients.Tokens);
            }, out var accumulateSeconds);
            Timed(shard.SquaredGradientNorm, out var normSeconds);
            Timed(() => shard.Apply(config.OptimizerOrDefault.Lr, clipCoefficient: 1), out var applySeconds);
            var updateSeconds = TrainerUpdateSeconds(model, layout, optimizer, gradients.Slices[0], config.TrainingOrDefault.GradClip);
            if (step >= WarmUp)
                samples.Add(new LocalCosts(valuesSeconds, loadSeconds, gradients.Forward.TotalSeconds, gradients.Backward.TotalSeconds, gradientSeconds,
                    accumulateSeconds / workers, normSeconds, applySeconds, updateSeconds));
        }
        double Median(Func<LocalCosts, double> cost) => Samples.Median([.. samples.Select(cost)]);
        return new LocalCosts(Median(c => c.Values), Median(c => c.Load), Median(c => c.Forward), Median(c => c.Backward), Median(c => c.Gradient),
            Median(c => c.Accumulate), Median(c => c.Norm), Median(c => c.Apply), Median(c => c.TrainerUpdate));
    }

    /// <summary>
    /// The seconds the <see cref="Trainer"/>'s update takes with <paramref name="gradient"/> (the flat vector) as the
    /// model's gradients: global-norm clipping, then the optimizer's step. The parameters it changes are the next
    /// repetition's to overwrite.
    /// </summary>
    private static double TrainerUpdateSeconds(ILanguageModel model, ParameterLayout layout, Optimizer optimizer, float[] gradient, double clip)
    {
        using var scope = DisposeScope.Enter();
        var parameters = model.Parameters().ToList();
        for (var i = 0; i < parameters.Count; i++)
        {
            var span = layout.Parameters[i];
            parameters[i].Grad = Tensor.FromArray<float>(gradient.AsSpan((int)span.Offset, (int)span.Length), span.Shape);
        }
        Timed(() =>
        {
            GradientClipping.ClipGradNorm(parameters, clip);
            optimizer.Step();
        }, out var seconds);
        optimizer.ZeroGrad();
        return seconds;
    }

    private static T Timed<T>(Func<T> action, out double seconds)
    {
        var start = Stopwatch.GetTimestamp();
        var result = action();
        seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return result;
    }

    private static void Timed(Action action, out double seconds) => Timed(() =>
    {
        action();
        return 0;
    }, out seconds);
}
