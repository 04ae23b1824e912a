using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training;

/// <summary>
/// One part of a batch as token ids, to hand from the grain that serves it to the one that trains on it: inputs and
/// next-token targets, each [Rows, T] row-major, and whether its rows continue the previous batch's (truncated BPTT).
/// </summary>
public sealed record BatchTokens(long[] Inputs, long[] Targets, int Rows, bool ContinuesPrevious)
{
    /// <summary>Part <paramref name="part"/> of <paramref name="parts"/> of <paramref name="source"/>'s batch <paramref name="index"/>.</summary>
    public static BatchTokens Of(IBatchSource source, long index, int part, int parts)
    {
        using var scope = DisposeScope.Enter();
        var (inputs, targets) = source.Batch(index, part, parts);
        return new BatchTokens(inputs.ToArray<long>(), targets.ToArray<long>(), (int)inputs.Shape[0], source.ContinuesPreviousBatch(index));
    }

    /// <summary>Inputs and targets as [Rows, T] Int64 tensors, after checking the arrays have that shape.</summary>
    public (Tensor Inputs, Tensor Targets) ToTensors()
    {
        if (Rows < 1 || Inputs.Length == 0 || Inputs.Length % Rows != 0 || Targets.Length != Inputs.Length)
            throw new ArgumentException($"a batch of {Rows} rows needs inputs and targets of one equal, non-zero multiple of {Rows} tokens; got {Inputs.Length} and {Targets.Length}");
        long[] shape = [Rows, Inputs.Length / Rows];
        return (Tensor.FromArray<long>(Inputs, shape), Tensor.FromArray<long>(Targets, shape));
    }
}
