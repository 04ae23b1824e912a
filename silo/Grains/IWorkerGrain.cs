using OrleansLm.Runtime.Grains;

namespace OrleansLm.Silo.Grains;

/// <summary>A model replica on one device, keyed by (run, rank): forward and backward of its parts of each batch.</summary>
public interface IWorkerGrain : IGrainWithCompoundKey
{
    Task Prepare(RunSpec spec);

    /// <summary>
    /// Attempt <paramref name="attempt"/> of step <paramref name="step"/>: pulls every parameter shard, computes the
    /// gradient of batch parts <paramref name="parts"/> (each from its <see cref="IDataShardGrain"/>; one part, or more
    /// while workers are missing), pushes each slice to its shard; returns the parts' loss, targets and timings.
    /// </summary>
    Task<WorkerStepResult> Step(long step, long attempt, int[] parts);

    /// <summary>The mean validation loss over the first <paramref name="batches"/> validation batches, with the current parameters.</summary>
    Task<double> Evaluate(int batches);

    /// <summary>Deactivates the worker, which frees its device: its run has ended.</summary>
    Task Release();
}

/// <param name="Loss">The target-weighted mean loss of the worker's parts.</param>
/// <param name="Tokens">Their targets.</param>
public sealed record WorkerStepResult(double Loss, long Tokens, StepTimings Timings);

/// <summary>Seconds a step spent in each phase (summed over the workers or shards that report them).</summary>
public sealed record StepTimings(double Pull, double Data, double Forward, double Backward, double Push, double Aggregate)
{
    public static StepTimings Zero { get; } = new(0, 0, 0, 0, 0, 0);

    public StepTimings Plus(StepTimings other) => new(
        Pull + other.Pull, Data + other.Data, Forward + other.Forward, Backward + other.Backward, Push + other.Push, Aggregate + other.Aggregate);

    public StepTimings Over(double count) => new(Pull / count, Data / count, Forward / count, Backward / count, Push / count, Aggregate / count);
}
