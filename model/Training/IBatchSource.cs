using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training;

/// <summary>
/// Mini-batches as a pure function of their index, so a resumed or distributed run draws exactly the
/// batches an uninterrupted single-process run would. A batch splits into equal row slices (parts):
/// gradient accumulation takes the parts of one batch in turn, N data-parallel workers take one each.
/// </summary>
public interface IBatchSource
{
    /// <summary>Inputs [B/parts, T] and next-token targets (Int64) of part <paramref name="part"/> of batch <paramref name="index"/>.</summary>
    (Tensor Inputs, Tensor Targets) Batch(long index, int part = 0, int parts = 1);

    /// <summary>
    /// Whether every row of batch <paramref name="index"/> continues the same row of batch index − 1, so a recurrent
    /// model should start from the state the previous batch left (truncated BPTT). Random windows never do.
    /// </summary>
    bool ContinuesPreviousBatch(long index) => false;
}
