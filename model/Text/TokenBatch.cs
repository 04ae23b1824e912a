using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Text;

/// <summary>
/// Inputs [B, T] and targets [B, T] (Int64), targets[b, t] being the token after inputs[b, t].
/// <see cref="ResetState"/> is false only when every row continues the same row of the previous batch
/// (consecutive segments of <see cref="TokenStreams"/>), the one case where a recurrent model should carry
/// its hidden state over.
/// </summary>
public sealed record TokenBatch(Tensor Inputs, Tensor Targets, bool ResetState) : IDisposable
{
    /// <summary>Row b reads tokens [starts[b], starts[b] + T] of <paramref name="source"/>.</summary>
    internal static TokenBatch Gather(ReadOnlySpan<int> source, ReadOnlySpan<int> starts, int length, bool resetState)
    {
        var inputs = new long[starts.Length * length];
        var targets = new long[inputs.Length];
        for (var b = 0; b < starts.Length; b++)
        for (var t = 0; t < length; t++)
        {
            inputs[b * length + t] = source[starts[b] + t];
            targets[b * length + t] = source[starts[b] + t + 1];
        }
        long[] shape = [starts.Length, length];
        return new TokenBatch(Tensor.FromArray<long>(inputs, shape), Tensor.FromArray<long>(targets, shape), resetState);
    }

    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
    }
}
