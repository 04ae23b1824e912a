namespace OrleansLm.Model.Training.Parallel;

/// <summary>Shard <paramref name="Index"/> of the flat parameter vector: elements [Start, Start + Length).</summary>
public readonly record struct ShardRange(int Index, long Start, long Length)
{
    public long End => Start + Length;
}
