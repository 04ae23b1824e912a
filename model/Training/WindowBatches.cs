using OrleansLm.Model.Text;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training;

/// <summary>Batches of <c>batchSize</c> random windows: batch i is the sampler's step i.</summary>
public sealed class WindowBatches : IBatchSource
{
    private readonly WindowSampler sampler;
    private readonly int batchSize;

    public WindowBatches(WindowSampler sampler, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        this.sampler = sampler;
        this.batchSize = batchSize;
    }

    public (Tensor Inputs, Tensor Targets) Batch(long index, int part = 0, int parts = 1)
    {
        var rows = BatchParts.RowsPerPart(batchSize, part, parts);
        var batch = sampler.Sample(index, rows, firstRow: (long)part * rows);
        return (batch.Inputs, batch.Targets);
    }
}
