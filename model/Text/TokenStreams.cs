namespace OrleansLm.Model.Text;

/// <summary>
/// Batches for truncated backpropagation through time, laid out as karpathy's char-rnn: the data is cut
/// into B equal streams read side by side, T tokens at a time. Row b of segment s + 1 continues row b of
/// segment s, so a recurrent model carries its hidden state across segments (detached); after the last
/// whole segment the streams wrap to their starts and the batch says <see cref="TokenBatch.ResetState"/>.
/// </summary>
public sealed class TokenStreams
{
    public TokenStreams(TokenSlice data, int batchSize, int segmentLength)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentLength, 1);
        Data = data;
        BatchSize = batchSize;
        SegmentLength = segmentLength;
        // Each stream needs one token past its inputs for the last target.
        StreamLength = (data.Length - 1) / batchSize;
        SegmentsPerPass = StreamLength / segmentLength;
        if (SegmentsPerPass == 0)
            throw new ArgumentException(
                $"{data} holds {data.Length} tokens, too few for {batchSize} streams of segmentLength + 1 = {segmentLength + 1}", nameof(data));
    }

    public TokenSlice Data { get; }

    public int BatchSize { get; }

    public int SegmentLength { get; }

    /// <summary>Input tokens per stream; stream b starts at b · StreamLength in <see cref="Data"/>.</summary>
    public int StreamLength { get; }

    /// <summary>Whole segments in one pass; the tokens past them at the end of each stream are not read.</summary>
    public int SegmentsPerPass { get; }

    /// <summary>Whether segment <paramref name="index"/> starts a pass, where the streams wrap and carried state must reset.</summary>
    public bool StartsPass(long index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return index % SegmentsPerPass == 0;
    }

    /// <summary>Segment <paramref name="index"/>, counted from 0 across passes.</summary>
    public TokenBatch Segment(long index) => Segment(index, 0, BatchSize);

    /// <summary>Rows [<paramref name="firstRow"/>, <paramref name="firstRow"/> + <paramref name="rows"/>) of segment <paramref name="index"/>.</summary>
    public TokenBatch Segment(long index, int firstRow, int rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(firstRow + rows, BatchSize, nameof(rows));
        var inPass = (int)(index % SegmentsPerPass);
        var starts = new int[rows];
        for (var b = 0; b < rows; b++) starts[b] = (firstRow + b) * StreamLength + inPass * SegmentLength;
        return TokenBatch.Gather(Data.Tokens, starts, SegmentLength, resetState: inPass == 0);
    }
}
