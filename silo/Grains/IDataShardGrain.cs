using OrleansLm.Model.Models;
using OrleansLm.Model.Training;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// Part p of every training batch of a run, keyed by (run, p): a run of N data-parallel parts has N data shards, and
/// each step every shard serves its rows of the step's seeded batch to the worker that computes that part. Placed
/// beside the first worker that asks (prefer-local), so the batches it serves do not cross silos.
/// </summary>
public interface IDataShardGrain : IGrainWithCompoundKey
{
    Task Prepare(RunSpec spec);

    /// <summary>Part p (the grain's key) of training batch <paramref name="step"/>, of the run's spec.workers parts.</summary>
    Task<BatchTokens> Batch(long step);

    /// <summary>
    /// The n-gram counts (model.order) of part p (the grain's key) of the training split cut into spec.workers contiguous parts:
    /// the grams that end inside the part, with the corpus before it as their history, so the parts' counts merge into the
    /// split's counts exactly. Returned as an n-gram counts file (<see cref="NGramCounts.Save(Stream)"/>). An n-gram run has
    /// no workers, so this needs no <see cref="Prepare"/>.
    /// </summary>
    Task<byte[]> CountNGrams(RunSpec spec, CancellationToken cancellation);
}
