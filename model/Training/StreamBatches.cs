using OrleansLm.Model.Text;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training;

/// <summary>Truncated-BPTT batches: batch i is segment i of the streams; a part is a contiguous block of streams.</summary>
public sealed class StreamBatches(TokenStreams streams) : IBatchSource
{
    public (Tensor Inputs, Tensor Targets) Batch(long index, int part = 0, int parts = 1)
    {
        var rows = BatchParts.RowsPerPart(streams.BatchSize, part, parts);
        var segment = streams.Segment(index, part * rows, rows);
        return (segment.Inputs, segment.Targets);
    }

    public bool ContinuesPreviousBatch(long index) => !streams.StartsPass(index);
}
