namespace OrleansLm.Model.Training.Parallel;

/// <summary>
/// What a replica sends back for one step: the mean loss of its batch part, the part's target count (its weight in the
/// step's mean) and the gradient of that mean loss cut into one slice per parameter shard; and how long its forward and
/// backward took (libtorch on the CPU runs synchronously, so these are the passes' own times).
/// </summary>
public sealed record ReplicaGradients(double Loss, long Tokens, float[][] Slices)
{
    public TimeSpan Forward { get; init; }

    public TimeSpan Backward { get; init; }

    /// <summary>
    /// Several batch parts' gradients as one contribution (what a replica that computed more than one part pushes): the
    /// parts' target-weighted mean loss and gradient slices with their summed target count, so a shard that weighs
    /// contributions by targets gets the same sum as from the parts one by one.
    /// </summary>
    public static ReplicaGradients Combine(IReadOnlyList<ReplicaGradients> parts)
    {
        if (parts.Count == 0) throw new ArgumentException("there are no batch parts to combine", nameof(parts));
        if (parts.Count == 1) return parts[0];
        var tokens = parts.Sum(p => p.Tokens);
        var slices = new float[parts[0].Slices.Length][];
        for (var k = 0; k < slices.Length; k++)
        {
            var sum = new double[parts[0].Slices[k].Length];
            foreach (var part in parts)
            {
                if (part.Slices.Length != slices.Length || part.Slices[k].Length != sum.Length)
                    throw new ArgumentException("the parts' gradients are cut into different shard slices", nameof(parts));
                for (var i = 0; i < sum.Length; i++) sum[i] += (double)part.Tokens * part.Slices[k][i];
            }
            slices[k] = [.. sum.Select(g => (float)(g / tokens))];
        }
        return new ReplicaGradients(DataParallelStep.Loss(parts.Select(p => (p.Loss, p.Tokens))), tokens, slices)
        {
            Forward = TimeSpan.FromTicks(parts.Sum(p => p.Forward.Ticks)),
            Backward = TimeSpan.FromTicks(parts.Sum(p => p.Backward.Ticks)),
        };
    }
}
