namespace OrleansLm.Model.Training.Parallel;

/// <summary>Where one parameter lies in the flat parameter vector: elements [Offset, Offset + Length), its values in row-major order.</summary>
public sealed record ParameterSpan(string Name, long[] Shape, long Offset, long Length)
{
    /// <summary>The parameter's number of dimensions (decay_matrices_only decays those of rank 2 and more).</summary>
    public int Rank => Shape.Length;

    public long End => Offset + Length;

    public override string ToString() => $"'{Name}' [{string.Join(", ", Shape)}]";
}
