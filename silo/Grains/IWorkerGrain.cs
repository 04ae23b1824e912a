using OrleansLm.Runtime.Grains;

namespace OrleansLm.Silo.Grains;

/// <summary>A model replica on one device, keyed by (run, rank): forward and backward of its part of each batch.</summary>
public interface IWorkerGrain : IGrainWithCompoundKey
{
    Task Prepare(RunSpec spec);

    /// <summary>
    /// Step <paramref name="step"/> as rank <paramref name="rank"/> of <paramref name="workers"/>: pulls every parameter
    /// shard, computes the gradient of its part of the batch, pushes each slice to its shard; returns its loss and tokens.
    /// </summary>
    Task<WorkerStepResult> Step(long step, int rank, int workers);

    /// <summary>The mean validation loss over the first <paramref name="batches"/> validation batches, with the current parameters.</summary>
    Task<double> Evaluate(int batches);
}

public sealed record WorkerStepResult(double Loss, long Tokens);
