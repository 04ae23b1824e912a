using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training;

/// <summary>
/// Mini-batches as a pure function of their index, so a resumed or distributed run draws exactly the
/// batches an uninterrupted single-process run would.
/// </summary>
public interface IBatchSource
{
    /// <summary>Inputs [B, T] and next-token targets [B, T] (Int64) of batch <paramref name="index"/>.</summary>
    (Tensor Inputs, Tensor Targets) Batch(long index);
}
