namespace OrleansLm.Model.Text;

/// <summary>
/// Mini-batches of random windows, as nanoGPT's <c>get_batch</c>: a row starting at i holds inputs
/// data[i : i + T] and targets data[i + 1 : i + T + 1], with i uniform in [0, len(data) − T).
/// The start of row r at step s is a hash of (seed, s, r) alone, so any step can be redrawn without
/// replaying the ones before it, and N workers that take rows [k·B/N, (k+1)·B/N) of the same step
/// draw together exactly the batch one process draws with B rows.
/// </summary>
public sealed class WindowSampler
{
    private readonly long _seed;

    public WindowSampler(TokenSlice data, int blockSize, long seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        if (data.Length <= blockSize)
            throw new ArgumentException($"{data} holds {data.Length} tokens; a window needs blockSize + 1 = {blockSize + 1}", nameof(data));
        Data = data;
        BlockSize = blockSize;
        _seed = seed;
    }

    public TokenSlice Data { get; }

    public int BlockSize { get; }

    /// <summary>Where row <paramref name="row"/> of step <paramref name="step"/> starts, relative to <see cref="Data"/>.</summary>
    public int WindowStart(long step, long row)
    {
        var hash = SplitMix64.Mix(SplitMix64.Mix(SplitMix64.Mix((ulong)_seed) ^ (ulong)step) ^ (ulong)row);
        // The high word of hash · n is uniform on [0, n) up to n / 2^64 (Lemire's multiply-shift).
        return (int)Math.BigMul(hash, (ulong)(Data.Length - BlockSize), out _);
    }

    /// <summary>Rows [<paramref name="firstRow"/>, <paramref name="firstRow"/> + <paramref name="batchSize"/>) of step <paramref name="step"/>.</summary>
    public TokenBatch Sample(long step, int batchSize, long firstRow = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        var starts = new int[batchSize];
        for (var b = 0; b < batchSize; b++) starts[b] = WindowStart(step, firstRow + b);
        return TokenBatch.Gather(Data.Tokens, starts, BlockSize, resetState: true);
    }
}

internal static class SplitMix64
{
    /// <summary>SplitMix64's output function on x + γ: consecutive inputs give independent-looking outputs.</summary>
    public static ulong Mix(ulong x)
    {
        var z = x + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
