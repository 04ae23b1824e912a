using System.Diagnostics;
using OrleansLm.Model.Training;
using OrleansLm.Model.Training.Parallel;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Placement;
using OrleansLm.Silo.Metrics;
using OrleansLm.Silo.Runs;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// Drives one run's synchronous data-parallel steps (ARCHITECTURE.md, "Grains of the training cluster"): every live
/// worker pulls the parameters, computes the gradient of its parts of batch t and pushes it to the shards; the
/// coordinator sums the shards' squared gradient norms into one clip coefficient; every shard applies the update.
/// With the same seed this reproduces the single-process <see cref="Trainer"/>.
/// <para>
/// Faults: a worker whose step fails is dropped, its parts go to the others and the step is attempted again (the
/// shards discard the failed attempt's gradients); missing workers are asked to rejoin every few seconds, so a new
/// silo's device gets one. Anything else that fails a step (a shard's silo lost) restores every shard from the newest
/// valid checkpoint. The run's state is saved to the cluster's <see cref="IRunStore"/>, and a coordinator that
/// activates for a run saved as running continues it from its newest checkpoint.
/// </para>
/// Reentrant, so control and status calls are answered while the loop it started awaits its workers. Placed on the silo
/// that first calls it (the gateway's, for runs started through it).
/// </summary>
[Reentrant]
[PreferLocalPlacement]
public sealed class TrainingRunGrain(RunStorage storage, RunData data, ILogger<TrainingRunGrain> logger) : Grain, ITrainingRunGrain
{
    private const int KeptCheckpoints = 3;
    private static readonly TimeSpan KeepAlive = TimeSpan.FromMinutes(30);
    private static readonly TimeSpan RejoinEvery = TimeSpan.FromSeconds(5);

    /// <summary>How long the run keeps recovering (restoring, waiting for workers) without completing a step before it fails.</summary>
    private static readonly TimeSpan RecoveryLimit = TimeSpan.FromMinutes(3);

    private readonly List<double> losses = [];
    private readonly List<Evaluation> evaluations = [];
    private RunShape? shape;
    private TrainingMeters.RunLabels? labels;
    private TaskCompletionSource ended = NewSignal();
    private TaskCompletionSource resumed = NewSignal();
    private RunState state = RunState.NotStarted;
    private RunSpec? spec;
    private Task? loop;
    private Control requested;
    private long attempt;
    private double validationLoss = double.NaN;
    private double tokensPerSecond;
    private TimeSpan? eta;
    private long checkpointStep = -1;
    private string? error;
    private readonly SortedSet<int> live = [];
    private StepTimings timings = StepTimings.Zero;
    private long timedSteps;
    private long totalSteps;
    private long evaluatedStep = -1;

    // Whether the shards may not hold the current step (before the first restore, after a failed step): nothing to checkpoint then.
    private bool restoring = true;

    // Held for each step (and its checkpoint), so an export reads every shard at the same step.
    private readonly SemaphoreSlim stepBoundary = new(1, 1);

    /// <summary>What the loop does at the next step boundary. Leave: this activation is going away (its silo shuts down);
    /// the run stays running in the store, and a watchdog continues it elsewhere from its newest checkpoint.</summary>
    private enum Control { None, Pause, Stop, Leave }

    private string RunId => GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (await storage.Store.LoadAsync(RunId, cancellationToken) is not { } record) return;
        (spec, state, checkpointStep, error) = (record.Spec, record.State, record.CheckpointStep, record.Error);
        labels = RunSpecs.Labels(RunId, spec);
        totalSteps = RunSpecs.Config(spec).TrainingOrDefault.Steps;
        if (record.State == RunState.Running)
        {
            logger.LogWarning("run {Run} was running when its coordinator was lost; continuing from its newest checkpoint", RunId);
            StartLoop(fromCheckpoint: true);
        }
        else if (record.State != RunState.NotStarted && spec.CheckpointDirectory is not null && NewestCheckpoint(spec) is { } manifest)
        {
            // A run that ended before this activation: its status shows the history its newest checkpoint kept.
            Recall(manifest);
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (loop is not { IsCompleted: false } running) return;
        requested = Control.Leave;
        resumed.TrySetResult();
        await running.WaitAsync(cancellationToken);
    }

    public Task<RunStatus> Start(RunSpec runSpec)
    {
        if (spec is not null && state != RunState.NotStarted)
            throw new InvalidOperationException($"run {RunId} already exists ({state}, step {losses.Count}): resume it, or start a run with another id");
        var training = Validate(runSpec).TrainingOrDefault;
        var directory = runSpec.CheckpointDirectory ?? training.Checkpoint ?? Path.Combine(storage.CheckpointRoot, RunId);
        spec = runSpec with { CheckpointDirectory = Path.GetFullPath(directory) };
        labels = RunSpecs.Labels(RunId, spec);
        totalSteps = training.Steps;
        StartLoop(fromCheckpoint: true);
        return Status();
    }

    public Task<RunStatus> Pause()
    {
        RequireLoop("pause");
        if (state == RunState.Running) requested = Control.Pause;
        return Status();
    }

    public Task<RunStatus> Resume()
    {
        if (spec is null) throw new InvalidOperationException($"run {RunId} was never started");
        if (loop is { IsCompleted: false })
        {
            if (requested == Control.Pause) requested = Control.None;
            resumed.TrySetResult();
        }
        else if (state == RunState.Completed)
            throw new InvalidOperationException($"run {RunId} has completed its {losses.Count} steps");
        else
            StartLoop(fromCheckpoint: true);
        return Status();
    }

    public Task<RunStatus> Stop()
    {
        RequireLoop("stop");
        requested = Control.Stop;
        resumed.TrySetResult();
        return Status();
    }

    public Task<RunStatus> Status() => Task.FromResult(new RunStatus(
        RunId, state, losses.Count, totalSteps, losses.Count > 0 ? losses[^1] : double.NaN, validationLoss, tokensPerSecond,
        live.Count, state == RunState.Running ? eta : null, checkpointStep, error, [.. losses], [.. evaluations], shape));

    public async Task<long> Checkpoint()
    {
        if (spec is null || RunSpecs.Config(spec).ModelOrDefault is NGramSection) return checkpointStep;
        await stepBoundary.WaitAsync();
        try
        {
            if (loop is { IsCompleted: false } && !restoring && state is RunState.Running or RunState.Paused)
            {
                await CheckpointAsync(Shards(spec));
                logger.LogInformation("run {Run}: checkpointed step {Step} on request", RunId, checkpointStep);
            }
        }
        finally
        {
            stepBoundary.Release();
        }
        return checkpointStep;
    }

    public Task<StepTimings> Timings() => Task.FromResult(timedSteps > 0 ? timings.Over(timedSteps) : StepTimings.Zero);

    public async Task<RunStatus> WaitForEnd(TimeSpan timeout)
    {
        await Task.WhenAny(ended.Task, Task.Delay(timeout));
        return await Status();
    }

    public async Task<string> Export(string? path)
    {
        var runSpec = spec ?? throw new InvalidOperationException($"run {RunId} was never started, so it has no parameters to export");
        if (RunSpecs.Config(runSpec).ModelOrDefault is NGramSection)
            return state == RunState.Completed && path is null
                ? NGramModelPath(runSpec)
                : throw new InvalidOperationException($"run {RunId} is an n-gram run ({state}): its model is {NGramModelPath(runSpec)} once counted");
        var target = Path.GetFullPath(path ?? Path.Combine(runSpec.CheckpointDirectory!, "model.safetensors"));
        if (loop is { IsCompleted: false })
        {
            await stepBoundary.WaitAsync();
            try
            {
                return await RunExport.WriteAsync(GrainFactory, RunId, runSpec, data, target);
            }
            finally
            {
                stepBoundary.Release();
            }
        }
        // Not running: the shards may be gone (idle, or their silos), but the final checkpoint holds what they held.
        var manifest = NewestCheckpoint(runSpec)
            ?? throw new InvalidOperationException($"run {RunId} is {state} and has no valid checkpoint in {runSpec.CheckpointDirectory} to export");
        return RunExport.WriteFromCheckpoint(manifest, data, target);
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The spec's configuration, after checking the spec's own fields against it.</summary>
    private static RunConfig Validate(RunSpec runSpec)
    {
        var config = RunSpecs.Config(runSpec);
        RunSpecs.CheckWorkers(runSpec);
        if (config.ModelOrDefault is NGramSection) return config;
        if (runSpec.ParameterServers < 1)
            throw new ArgumentException($"spec.parameter_servers must be at least 1, not {runSpec.ParameterServers}", nameof(runSpec));
        if (config.Data.BatchSize % runSpec.Workers != 0)
            throw new ArgumentException(
                $"spec.workers: data.batch_size {config.Data.BatchSize} does not split into {runSpec.Workers} equal parts", nameof(runSpec));
        return config;
    }

    private void RequireLoop(string action)
    {
        if (loop is not { IsCompleted: false })
            throw new InvalidOperationException($"run {RunId} is {state}: there is nothing to {action}");
    }

    private void StartLoop(bool fromCheckpoint)
    {
        (state, requested, error) = (RunState.Running, Control.None, null);
        (timings, timedSteps) = (StepTimings.Zero, 0);
        ended = NewSignal();
        DelayDeactivation(KeepAlive);
        loop = RunAsync(fromCheckpoint, ended);
    }

    private async Task RunAsync(bool fromCheckpoint, TaskCompletionSource end)
    {
        var runSpec = spec!;
        var config = RunSpecs.Config(runSpec);
        if (config.ModelOrDefault is NGramSection)
        {
            await CountAsync(runSpec, end);
            return;
        }
        var training = config.TrainingOrDefault;
        var shards = Shards(runSpec);
        var workers = Enumerable.Range(0, runSpec.Workers).Select(r => GrainFactory.GetGrain<IWorkerGrain>(RunId, r)).ToList();
        restoring = true;
        try
        {
            await PersistAsync();
            shape ??= await Task.Run(() => RunSpecs.Shape(config, data));
            live.Clear();
            var schedule = config.ScheduleOrDefault.Build(config.OptimizerOrDefault.Lr, training.Steps);
            var pace = new Pace();
            var lastProgress = Stopwatch.StartNew();
            var lastRejoin = Stopwatch.StartNew();
            while ((restoring || losses.Count < training.Steps) && await ContinueAsync(pace))
            {
                DelayDeactivation(KeepAlive);
                await stepBoundary.WaitAsync();
                try
                {
                    try
                    {
                        if (restoring)
                        {
                            await RestoreAsync(shards, fromCheckpoint);
                            (restoring, fromCheckpoint) = (false, true);
                            if (losses.Count == training.Steps) break;
                        }
                        if (live.Count < workers.Count && (live.Count == 0 || lastRejoin.Elapsed >= RejoinEvery))
                        {
                            await RejoinAsync(workers);
                            lastRejoin.Restart();
                        }
                        if (live.Count == 0)
                            throw new WorkersLostException($"no worker could join (spec.workers {runSpec.Workers}): no silo with role '{SiloGrains.WorkerRole}' has a free device");
                        await StepAsync(losses.Count, schedule.LearningRateAt(losses.Count), training, shards, workers, pace);
                        if (training.CheckpointEvery > 0 && losses.Count % training.CheckpointEvery == 0 && losses.Count < training.Steps)
                            await CheckpointAsync(shards);
                        lastProgress.Restart();
                    }
                    catch (Exception e) when (e is not (TrainingDivergedException or ArgumentException))
                    {
                        if (lastProgress.Elapsed > RecoveryLimit)
                            throw new RunRecoveryException($"step {losses.Count}: no progress for {RecoveryLimit.TotalMinutes:F0} minutes; last error: {e.Message}", e);
                        if (e is WorkersLostException && live.Count > 0) continue;
                        if (e is not WorkersLostException)
                        {
                            await Task.Delay(TimeSpan.FromSeconds(1));
                            if (!restoring && await ShardsTakeAnotherAttemptAsync(shards))
                            {
                                logger.LogWarning(e, "run {Run}: step {Step} failed; every shard still holds it, so it runs again", RunId, losses.Count);
                                continue;
                            }
                            logger.LogWarning(e, "run {Run}: step {Step} failed; restoring the parameter servers from the newest checkpoint", RunId, losses.Count);
                            restoring = true;
                        }
                        await Task.Delay(TimeSpan.FromSeconds(1));
                    }
                }
                finally
                {
                    stepBoundary.Release();
                }
            }
            if (requested == Control.Leave)
            {
                logger.LogInformation("run {Run}: its coordinator is deactivating at step {Step}; the run goes on elsewhere", RunId, losses.Count);
                return;
            }
            if (requested != Control.Stop && evaluatedStep != losses.Count)
                await FinalEvaluationAsync(workers, training.EvalBatches, lastProgress);
            await CheckpointAsync(shards);
            state = requested == Control.Stop ? RunState.Stopped : RunState.Completed;
            logger.LogInformation("run {Run} {State} at step {Step}: loss {Loss:F4}, validation loss {Validation:F4}",
                RunId, state, losses.Count, losses.Count > 0 ? losses[^1] : double.NaN, validationLoss);
        }
        catch (Exception e)
        {
            error = e.Message;
            state = RunState.Failed;
            logger.LogError(e, "run {Run} failed at step {Step}", RunId, losses.Count);
        }
        finally
        {
            await PersistAsync();
            // A coordinator that leaves hands the run on with its workers; one whose run ended frees their devices now,
            // not after the idle collection, so the next run (a sweep's next point) finds them. Resuming prepares them again.
            if (state != RunState.Running) await ReleaseWorkersAsync(workers);
            end.TrySetResult();
        }
    }

    private async Task ReleaseWorkersAsync(List<IWorkerGrain> workers)
    {
        // The live set stays as it was: the status of an ended run reports the workers of its last step.
        var releases = live.Select(rank => workers[rank].Release()).ToArray();
        try
        {
            await Task.WhenAll(releases);
        }
        catch (Exception e)
        {
            // A worker that cannot be reached is gone, and its device with it.
            logger.LogDebug(e, "run {Run}: a worker could not be released", RunId);
        }
    }

    /// <summary>An n-gram run: the data shards count their parts; the merged model goes to model.ngram in the checkpoint directory.</summary>
    private async Task CountAsync(RunSpec runSpec, TaskCompletionSource end)
    {
        try
        {
            await PersistAsync();
            Directory.CreateDirectory(runSpec.CheckpointDirectory!);
            var summary = await NGramCounting.CountAsync(GrainFactory, data, RunId, runSpec, NGramModelPath(runSpec), CancellationToken.None);
            Evaluated(summary.ValidationLoss);
            state = RunState.Completed;
            logger.LogInformation("run {Run} counted the n-grams of {Tokens} tokens on {Parts} data shards: validation loss {Validation:F4}",
                RunId, summary.TrainTokens, runSpec.Workers, validationLoss);
        }
        catch (Exception e)
        {
            (error, state) = (e.Message, RunState.Failed);
            logger.LogError(e, "run {Run} failed counting n-grams", RunId);
        }
        finally
        {
            await PersistAsync();
            end.TrySetResult();
        }
    }

    /// <summary>Where an n-gram run's model goes (its tokenizer beside it).</summary>
    public static string NGramModelPath(RunSpec runSpec) => Path.Combine(runSpec.CheckpointDirectory!, "model.ngram");

    /// <summary>Honours a pause or stop request between steps; false when the run should stop.</summary>
    private async Task<bool> ContinueAsync(Pace pace)
    {
        if (requested == Control.Pause)
        {
            state = RunState.Paused;
            resumed = NewSignal();
            pace.Hold();
            await PersistAsync();
            logger.LogInformation("run {Run} paused at step {Step}", RunId, losses.Count);
            while (!resumed.Task.IsCompleted)
            {
                DelayDeactivation(KeepAlive);
                await Task.WhenAny(resumed.Task, Task.Delay(TimeSpan.FromMinutes(1)));
            }
            if (requested is Control.Stop or Control.Leave) return false;
            state = RunState.Running;
            pace.Go();
            await PersistAsync();
        }
        return requested is not (Control.Stop or Control.Leave);
    }

    private async Task StepAsync(long step, double learningRate, TrainingSection training, List<IParameterServerGrain> shards, List<IWorkerGrain> workers, Pace pace)
    {
        var clock = Stopwatch.StartNew();
        var ranks = live.ToArray();
        var calls = ranks.Select((rank, i) => workers[rank].Step(step, attempt, PartsOf(i, ranks.Length, spec!.Workers))).ToArray();
        try
        {
            await Task.WhenAll(calls);
        }
        catch
        {
            await DropFailedWorkersAsync(step, ranks, calls, shards);
        }
        var results = calls.Select(c => c.Result).ToArray();
        var loss = DataParallelStep.Loss(results.Select(r => (r.Loss, r.Tokens)));
        var (norm, coefficient) = DataParallelStep.Clipping(await Task.WhenAll(shards.Select(s => s.SquaredGradientNorm(step, attempt))), training.GradClip);
        double aggregate = 0;
        if (double.IsFinite(loss) && double.IsFinite(norm))
            aggregate = (await Task.WhenAll(shards.Select(s => s.Apply(step, attempt, learningRate, coefficient)))).Sum();
        else if (training.OnNonFinite == NonFinitePolicy.Skip)
        {
            logger.LogWarning("run {Run}: step {Step} skipped: loss {Loss}, gradient norm {Norm}", RunId, step, loss, norm);
            await Task.WhenAll(shards.Select(s => s.Skip(step, attempt)));
        }
        else
        {
            TrainingMeters.Diverged(labels!, loss);
            throw new TrainingDivergedException($"step {step}: the {(double.IsFinite(loss) ? $"gradient norm is {norm}" : $"loss is {loss}")}");
        }

        losses.Add(loss);
        timings = results.Aggregate(timings, (sum, r) => sum.Plus(r.Timings)).Plus(StepTimings.Zero with { Aggregate = aggregate });
        timedSteps++;
        var tokens = results.Sum(r => r.Tokens);
        pace.Stepped(tokens);
        tokensPerSecond = pace.TokensPerSecond;
        eta = pace.Remaining(training.Steps - losses.Count);
        TrainingMeters.Stepped(labels!, new RunProgress(losses.Count, loss, tokens, tokensPerSecond, learningRate, norm, clock.Elapsed));
        var last = losses.Count == training.Steps;
        if (last || (training.EvalEvery > 0 && losses.Count % training.EvalEvery == 0))
        {
            Evaluated(await EvaluateAsync(workers, training.EvalBatches));
        }
    }

    /// <summary>
    /// After some workers' steps failed: the shards drop the attempt (a shard that cannot is lost itself, which the
    /// caller handles by restoring), the failed workers leave the live set, and the step is attempted again.
    /// </summary>
    private async Task DropFailedWorkersAsync(long step, int[] ranks, Task<WorkerStepResult>[] calls, List<IParameterServerGrain> shards)
    {
        attempt++;
        await Task.WhenAll(shards.Select(s => s.Abandon(step, attempt)));
        var failed = Enumerable.Range(0, ranks.Length).Where(i => !calls[i].IsCompletedSuccessfully).ToArray();
        foreach (var i in failed)
        {
            live.Remove(ranks[i]);
            logger.LogWarning(calls[i].Exception?.GetBaseException(), "run {Run}: worker {Rank} failed step {Step}; going on with {Live} workers", RunId, ranks[i], step, live.Count);
        }
        throw new WorkersLostException($"step {step}: workers {string.Join(", ", failed.Select(i => ranks[i]))} failed");
    }

    private List<IParameterServerGrain> Shards(RunSpec runSpec) =>
        [.. Enumerable.Range(0, runSpec.ParameterServers).Select(k => GrainFactory.GetGrain<IParameterServerGrain>(RunId, k))];

    /// <summary>Batch parts i, i + n, i + 2n, … of <paramref name="parts"/> for the i-th of <paramref name="n"/> live workers.</summary>
    private static int[] PartsOf(int i, int n, int parts) => [.. Enumerable.Range(0, parts).Where(p => p % n == i)];

    private void Evaluated(double loss)
    {
        (validationLoss, evaluatedStep) = (loss, losses.Count);
        evaluations.Add(new Evaluation(losses.Count, loss));
        TrainingMeters.Evaluated(labels!, loss);
    }

    private async Task<double> EvaluateAsync(List<IWorkerGrain> workers, int batches)
    {
        foreach (var rank in live.ToArray())
        {
            try
            {
                return await workers[rank].Evaluate(batches);
            }
            catch (Exception e)
            {
                live.Remove(rank);
                logger.LogWarning(e, "run {Run}: worker {Rank} failed to evaluate; dropped", RunId, rank);
            }
        }
        throw new WorkersLostException("no worker could evaluate the validation loss");
    }

    /// <summary>
    /// Whether every shard is still at the current step and takes a new attempt of it: then a failed step was transient
    /// (a call lost while the cluster's views settle) and runs again; a shard that lost its state (its silo died) or moved
    /// past the step cannot, and the run restores from a checkpoint instead.
    /// </summary>
    private async Task<bool> ShardsTakeAnotherAttemptAsync(List<IParameterServerGrain> shards)
    {
        attempt++;
        try
        {
            await Task.WhenAll(shards.Select(s => s.Abandon(losses.Count, attempt)));
            return true;
        }
        catch (Exception e)
        {
            logger.LogDebug(e, "run {Run}: a shard cannot take step {Step} again", RunId, losses.Count);
            return false;
        }
    }

    /// <summary>The last step's validation loss, when the workers failed it: with whichever workers can join, until the recovery limit.</summary>
    private async Task FinalEvaluationAsync(List<IWorkerGrain> workers, int batches, Stopwatch lastProgress)
    {
        while (true)
        {
            try
            {
                if (live.Count == 0) await RejoinAsync(workers);
                Evaluated(await EvaluateAsync(workers, batches));
                return;
            }
            catch (WorkersLostException e) when (lastProgress.Elapsed <= RecoveryLimit)
            {
                logger.LogWarning("run {Run}: the final evaluation failed ({Reason}); trying again", RunId, e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
        }
    }

    /// <summary>
    /// Asks every worker not in the live set to prepare; those that can (a silo with a free device) join. When none is
    /// live and a worker refused the configuration itself (an ArgumentException: training.device names a GPU its silo
    /// lacks, say), the run fails with that reason rather than waiting for a worker that could take it.
    /// </summary>
    private async Task RejoinAsync(List<IWorkerGrain> workers)
    {
        var missing = Enumerable.Range(0, workers.Count).Where(r => !live.Contains(r)).ToArray();
        var prepares = missing.Select(r => workers[r].Prepare(spec!)).ToArray();
        try
        {
            await Task.WhenAll(prepares);
        }
        catch
        {
            // Each failure is looked at below.
        }
        for (var i = 0; i < missing.Length; i++)
        {
            if (prepares[i].IsCompletedSuccessfully)
                live.Add(missing[i]);
            else
                logger.LogDebug(prepares[i].Exception?.GetBaseException(), "run {Run}: worker {Rank} could not join", RunId, missing[i]);
        }
        if (live.Count == 0 && prepares.Select(p => p.Exception?.GetBaseException()).OfType<ArgumentException>().FirstOrDefault() is { } refused)
            throw refused;
    }

    /// <summary>
    /// Puts every shard at the newest valid checkpoint in the run's directory (logging and skipping partial or damaged
    /// ones), or, without one or when <paramref name="fromCheckpoint"/> is false, at the initial parameters.
    /// </summary>
    private async Task RestoreAsync(List<IParameterServerGrain> shards, bool fromCheckpoint)
    {
        var runSpec = spec!;
        attempt++;
        var manifest = fromCheckpoint ? NewestCheckpoint(runSpec) : null;
        if (manifest is not null && !SameRun(manifest.Spec, runSpec))
            throw new ArgumentException(
                $"spec.checkpoint_directory: {runSpec.CheckpointDirectory} holds checkpoints of another configuration of run {RunId}; choose another directory");
        if (manifest is null)
        {
            await Task.WhenAll(shards.Select(s => s.Prepare(runSpec)));
            await Task.WhenAll(shards.Select(s => s.Abandon(0, attempt)));
            losses.Clear();
            evaluations.Clear();
            (validationLoss, checkpointStep) = (double.NaN, -1);
            return;
        }
        await Task.WhenAll(shards.Select((s, k) => s.Restore(runSpec, manifest.Files[k], manifest.Step, attempt)));
        Recall(manifest);
        logger.LogInformation("run {Run} restored from the checkpoint of step {Step}", RunId, manifest.Step);
    }

    /// <summary>Takes the run's history (losses, evaluations, model shape) from a checkpoint's manifest.</summary>
    private void Recall(RunManifest manifest)
    {
        losses.Clear();
        losses.AddRange(manifest.Losses);
        evaluations.Clear();
        evaluations.AddRange(manifest.Evaluations ?? []);
        (validationLoss, checkpointStep) = (manifest.ValidationLoss, manifest.Step);
        shape ??= manifest.Shape;
    }

    /// <summary>The newest checkpoint of the run that verifies; partial and damaged ones are logged and skipped.</summary>
    private RunManifest? NewestCheckpoint(RunSpec runSpec) => RunManifest.NewestValid(runSpec.CheckpointDirectory!, RunId,
        (directory, e) => logger.LogWarning("run {Run}: skipping checkpoint {Directory}: {Reason}", RunId, directory, e.Message));

    private static bool SameRun(RunSpec a, RunSpec b) =>
        a.ConfigJson == b.ConfigJson && a.Workers == b.Workers && a.ParameterServers == b.ParameterServers;

    /// <summary>Every shard writes its file into a new step directory; then the manifest, last; then old checkpoints go.</summary>
    private async Task CheckpointAsync(List<IParameterServerGrain> shards)
    {
        var runSpec = spec!;
        var step = losses.Count;
        if (step == checkpointStep || step == 0) return;
        var directory = RunManifest.Directory(runSpec.CheckpointDirectory!, step);
        Directory.CreateDirectory(directory);
        var files = await Task.WhenAll(shards.Select(s => s.Checkpoint(step, directory)));
        var config = RunSpecs.Config(runSpec);
        new RunManifest(RunManifest.CurrentFormat, RunId, step, runSpec, DataCursor: step,
            new RunSeeds(config.TrainingOrDefault.Seed, config.Data.Seed), validationLoss, [.. losses], files, DateTimeOffset.UtcNow, [.. evaluations], shape).Write(directory);
        checkpointStep = step;
        RunManifest.Prune(runSpec.CheckpointDirectory!, KeptCheckpoints);
        await PersistAsync();
    }

    private async Task PersistAsync()
    {
        TrainingMeters.StateChanged(labels!, state);
        try
        {
            await storage.Store.SaveAsync(new RunRecord(RunId, spec!, state, losses.Count, checkpointStep, error), CancellationToken.None);
        }
        catch (Exception e)
        {
            // The run goes on: its checkpoints hold what a restart needs, and the next save may succeed.
            logger.LogWarning(e, "run {Run}: could not save the run's state", RunId);
        }
    }

    /// <summary>Tokens per second and the time left, over the time the run has been running since it (re)started.</summary>
    private sealed class Pace
    {
        private readonly Stopwatch running = Stopwatch.StartNew();
        private long tokens;
        private long steps;

        public double TokensPerSecond => tokens / Math.Max(running.Elapsed.TotalSeconds, 1e-9);

        public void Stepped(long stepTokens)
        {
            tokens += stepTokens;
            steps++;
        }

        public TimeSpan Remaining(long steps) => TimeSpan.FromSeconds(steps * running.Elapsed.TotalSeconds / Math.Max(this.steps, 1));

        public void Hold() => running.Stop();

        public void Go() => running.Start();
    }

    private sealed class WorkersLostException(string message) : Exception(message);

    private sealed class RunRecoveryException(string message, Exception inner) : Exception(message, inner);
}
