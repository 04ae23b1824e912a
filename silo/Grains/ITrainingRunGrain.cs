using OrleansLm.Runtime.Grains;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// The coordinator of one training run, keyed by run id: it owns the run's spec, step counter, worker set and
/// checkpoints, and drives the synchronous data-parallel steps over its <see cref="IWorkerGrain"/>s,
/// <see cref="IDataShardGrain"/>s and <see cref="IParameterServerGrain"/>s.
/// </summary>
public interface ITrainingRunGrain : IGrainWithStringKey
{
    /// <summary>Starts the run (a second start of an unfinished run is refused); returns its status.</summary>
    Task<RunStatus> Start(RunSpec spec);

    /// <summary>Holds the run after the step in flight (a paused run keeps its workers and parameters).</summary>
    Task<RunStatus> Pause();

    /// <summary>
    /// Continues a paused run; or one that was stopped or whose cluster restarted, from its newest valid checkpoint
    /// (after a restart, from the run state the cluster keeps).
    /// </summary>
    Task<RunStatus> Resume();

    /// <summary>Ends the run after the step in flight and writes a checkpoint; it can be resumed.</summary>
    Task<RunStatus> Stop();

    Task<RunStatus> Status();

    /// <summary>
    /// Writes a checkpoint of the current step at the next step boundary, unless the newest checkpoint is of it or the
    /// run has nothing consistent to save (it is not running or paused, or it is restoring); returns the newest
    /// checkpoint's step (-1 for none). A silo that leaves calls it for the runs whose state it holds.
    /// </summary>
    Task<long> Checkpoint();

    /// <summary>
    /// The mean seconds per step of each phase since the run last (re)started: the workers' pull, data, forward, backward
    /// and push summed over the workers that took part, and the shards' aggregation summed over the shards.
    /// </summary>
    Task<StepTimings> Timings();

    /// <summary>Waits until the run has finished, failed or stopped, up to <paramref name="timeout"/>; returns its status then.</summary>
    Task<RunStatus> WaitForEnd(TimeSpan timeout);

    /// <summary>
    /// Writes the run's current parameters as one model file that <c>olm sample</c> and the samplers load (to
    /// <paramref name="path"/>, or model.safetensors in the run's checkpoint directory when null); returns its path.
    /// </summary>
    Task<string> Export(string? path);
}

/// <param name="ConfigJson">The run's <c>RunConfig</c>, as <c>ConfigFile.ToJson</c> writes it.</param>
/// <param name="Workers">Data-parallel parts N: every batch splits into N parts of batch_size / N rows, each computed by a worker.</param>
/// <param name="ParameterServers">Parameter-server shards K, each owning a contiguous slice of the parameters.</param>
/// <param name="CheckpointDirectory">
/// Where the run's checkpoints go (a directory every silo reaches, e.g. a shared volume); null for the config's
/// training.checkpoint (taken as a directory), or without one the cluster's checkpoint root joined with the run id.
/// </param>
public sealed record RunSpec(string ConfigJson, int Workers, int ParameterServers, string? CheckpointDirectory = null);

public enum RunState { NotStarted, Running, Paused, Stopped, Completed, Failed }

/// <param name="Step">Steps done.</param>
/// <param name="Workers">Workers taking part in the current step (fewer than the spec's while silos are missing).</param>
/// <param name="Eta">The time the remaining steps take at the current rate; null before the first step or once ended.</param>
/// <param name="CheckpointStep">The step of the newest checkpoint written, or -1.</param>
/// <param name="Losses">The training loss of every step so far (a researcher's loss curve, and what equivalence tests compare).</param>
/// <param name="Evaluations">Every validation loss reported so far, in step order.</param>
/// <param name="Shape">The model's size and cost; null until the run's loop has built its probe model, and for n-gram runs.</param>
public sealed record RunStatus(
    string RunId, RunState State, long Step, long TotalSteps, double Loss, double ValidationLoss, double TokensPerSecond,
    int Workers, TimeSpan? Eta, long CheckpointStep, string? Error, IReadOnlyList<double> Losses,
    IReadOnlyList<Evaluation> Evaluations, RunShape? Shape)
{
    /// <summary>Tokens trained on so far: every step trains on data.batch_size rows of data.block_size targets.</summary>
    public long Tokens => Step * (Shape?.TokensPerStep ?? 0);
}

/// <summary>The validation loss the run reported after step <paramref name="Step"/>.</summary>
public sealed record Evaluation(long Step, double Loss);

/// <summary>What a scaling-law fit needs of a run: N, the training FLOPs per token (C = FlopsPerToken · D) and D per step.</summary>
public sealed record RunShape(long Parameters, double FlopsPerToken, long TokensPerStep);
