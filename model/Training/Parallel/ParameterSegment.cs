namespace OrleansLm.Model.Training.Parallel;

/// <summary>
/// The part of a shard that one parameter holds: elements [Start, Start + Length) of parameter
/// <paramref name="Parameter"/> (an index into <see cref="ParameterLayout.Parameters"/>, counting the flattened
/// parameter's elements), found at <paramref name="ShardOffset"/> in the shard's slice.
/// </summary>
public readonly record struct ParameterSegment(int Parameter, long Start, long Length, long ShardOffset);
