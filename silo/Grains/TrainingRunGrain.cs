using System.Diagnostics;
using OrleansLm.Model.Training;
using OrleansLm.Model.Training.Parallel;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// Drives one run's synchronous data-parallel steps (ARCHITECTURE.md, "Grains of the training cluster"): every
/// worker pulls the parameters, computes the gradient of its part of batch t and pushes it to the shards; the
/// coordinator sums the shards' squared gradient norms into one clip coefficient; every shard applies the optimizer.
/// With the same seed this reproduces the single-process <see cref="Trainer"/>. Reentrant, so status calls are
/// answered while the loop it started awaits its workers.
/// </summary>
[Reentrant]
public sealed class TrainingRunGrain(ILogger<TrainingRunGrain> logger, RunData data) : Grain, ITrainingRunGrain
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromMinutes(30);

    private readonly List<double> losses = [];
    private TaskCompletionSource ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private RunState state = RunState.NotStarted;
    private RunSpec? spec;
    private long totalSteps;
    private double validationLoss = double.NaN;
    private double tokensPerSecond;
    private string? error;

    public Task<RunStatus> Start(RunSpec runSpec)
    {
        if (state == RunState.Running)
            throw new InvalidOperationException($"run {GetPrimaryKeyString()} is already running (step {losses.Count} of {totalSteps})");
        var config = Validate(runSpec);
        spec = runSpec;
        totalSteps = config.TrainingOrDefault.Steps;
        state = RunState.Running;
        error = null;
        validationLoss = double.NaN;
        losses.Clear();
        ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        DelayDeactivation(KeepAlive);
        _ = RunAsync(config, runSpec, ended);
        return Status();
    }

    public Task<RunStatus> Status() => Task.FromResult(new RunStatus(
        GetPrimaryKeyString(), state, losses.Count, totalSteps, losses.Count > 0 ? losses[^1] : double.NaN, validationLoss, tokensPerSecond,
        spec?.Workers ?? 0, null, -1, error, [.. losses]));

    public Task<RunStatus> Pause() => throw new NotSupportedException("pause is being built");

    public Task<RunStatus> Resume() => throw new NotSupportedException("resume is being built");

    public Task<RunStatus> Stop() => throw new NotSupportedException("stop is being built");

    public Task<string> Export(string? path)
    {
        var runId = GetPrimaryKeyString();
        var runSpec = spec ?? throw new InvalidOperationException($"run {runId} has not been started, so it has no parameters to export");
        var directory = runSpec.CheckpointDirectory ?? Path.Combine(Path.GetTempPath(), "olm-runs", runId);
        return RunExport.WriteAsync(GrainFactory, runId, runSpec, data, path ?? Path.Combine(directory, "model.safetensors"));
    }

    public async Task<RunStatus> WaitForEnd(TimeSpan timeout)
    {
        await Task.WhenAny(ended.Task, Task.Delay(timeout));
        return await Status();
    }

    private static RunConfig Validate(RunSpec runSpec)
    {
        var config = RunSpecs.Config(runSpec);
        if (config.ModelOrDefault is not NeuralModelSection)
            throw new ArgumentException("spec.config: model.family ngram is counted by `olm train`; the cluster trains neural families", nameof(runSpec));
        if (runSpec.Workers < 1)
            throw new ArgumentException($"spec.workers must be at least 1, not {runSpec.Workers}", nameof(runSpec));
        if (runSpec.ParameterServers < 1)
            throw new ArgumentException($"spec.parameter_servers must be at least 1, not {runSpec.ParameterServers}", nameof(runSpec));
        if (config.Data.BatchSize % runSpec.Workers != 0)
            throw new ArgumentException(
                $"spec.workers: data.batch_size {config.Data.BatchSize} does not split into {runSpec.Workers} equal parts", nameof(runSpec));
        return config;
    }

    private async Task RunAsync(RunConfig config, RunSpec runSpec, TaskCompletionSource end)
    {
        var runId = GetPrimaryKeyString();
        var training = config.TrainingOrDefault;
        try
        {
            var shards = Enumerable.Range(0, runSpec.ParameterServers).Select(k => GrainFactory.GetGrain<IParameterServerGrain>(runId, k)).ToList();
            var workers = Enumerable.Range(0, runSpec.Workers).Select(r => GrainFactory.GetGrain<IWorkerGrain>(runId, r)).ToList();
            await Task.WhenAll(shards.Select(s => s.Prepare(runSpec)));
            await Task.WhenAll(workers.Select(w => w.Prepare(runSpec)));

            var schedule = config.ScheduleOrDefault.Build(config.OptimizerOrDefault.Lr, training.Steps);
            var clock = Stopwatch.StartNew();
            long tokens = 0;
            for (long step = 0; step < training.Steps; step++)
            {
                DelayDeactivation(KeepAlive);
                var learningRate = schedule.LearningRateAt(step);
                var results = await Task.WhenAll(workers.Select((w, rank) => w.Step(step, rank, workers.Count)));
                var loss = DataParallelStep.Loss(results.Select(r => (r.Loss, r.Tokens)));
                var (norm, coefficient) = DataParallelStep.Clipping(await Task.WhenAll(shards.Select(s => s.SquaredGradientNorm(step))), training.GradClip);
                if (!double.IsFinite(loss) || !double.IsFinite(norm))
                    throw new TrainingDivergedException($"step {step}: the {(double.IsFinite(loss) ? $"gradient norm is {norm}" : $"loss is {loss}")}");
                await Task.WhenAll(shards.Select(s => s.Apply(step, learningRate, coefficient)));

                losses.Add(loss);
                tokens += results.Sum(r => r.Tokens);
                tokensPerSecond = tokens / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
                var last = step + 1 == training.Steps;
                if (last || (training.EvalEvery > 0 && (step + 1) % training.EvalEvery == 0))
                    validationLoss = await workers[0].Evaluate(training.EvalBatches);
            }
            state = RunState.Completed;
            logger.LogInformation("run {Run} completed {Steps} steps: loss {Loss:F4}, validation loss {Validation:F4}",
                runId, losses.Count, losses[^1], validationLoss);
        }
        catch (Exception e)
        {
            error = e.Message;
            state = RunState.Failed;
            logger.LogError(e, "run {Run} failed at step {Step}", runId, losses.Count);
        }
        finally
        {
            end.TrySetResult();
        }
    }
}
