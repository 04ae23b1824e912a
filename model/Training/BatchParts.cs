namespace OrleansLm.Model.Training;

internal static class BatchParts
{
    /// <summary>The rows in each of <paramref name="parts"/> equal parts of a batch, after checking <paramref name="part"/> is one of them.</summary>
    public static int RowsPerPart(int batchSize, int part, int parts)
    {
        if (parts < 1 || batchSize % parts != 0)
            throw new ArgumentOutOfRangeException(nameof(parts), parts, $"the batch size {batchSize} must split into {parts} equal parts");
        ArgumentOutOfRangeException.ThrowIfNegative(part);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(part, parts);
        return batchSize / parts;
    }
}
