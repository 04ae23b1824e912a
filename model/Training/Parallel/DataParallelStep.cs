using OrleansLm.Model.Optim;

namespace OrleansLm.Model.Training.Parallel;

/// <summary>
/// The arithmetic that ties the parts of one synchronous data-parallel step together, done by whoever coordinates it:
/// the step's loss from the replicas' and global-norm clipping from the shards' norms, as the single-process
/// <see cref="Trainer"/> computes them over the whole batch.
/// </summary>
public static class DataParallelStep
{
    /// <summary>The mean loss over the whole batch: the replicas' mean losses weighted by their target counts.</summary>
    public static double Loss(IEnumerable<(double Loss, long Tokens)> parts)
    {
        double weighted = 0;
        long tokens = 0;
        foreach (var part in parts)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(part.Tokens, 1, nameof(parts));
            weighted += part.Loss * part.Tokens;
            tokens += part.Tokens;
        }
        return tokens > 0 ? weighted / tokens : throw new ArgumentException("no replica reported a loss", nameof(parts));
    }

    /// <summary>
    /// The global gradient norm, √(Σ shard squared norms), and the coefficient every shard scales its gradient by:
    /// <see cref="GradientClipping.ClipCoefficient"/> of it, or 1 when <paramref name="maxNorm"/> is 0 (clipping off).
    /// A non-finite norm is returned, not rejected: the coordinator decides whether to stop or skip the step.
    /// </summary>
    public static (double Norm, double Coefficient) Clipping(IEnumerable<double> shardSquaredNorms, double maxNorm)
    {
        if (!(maxNorm >= 0) || double.IsInfinity(maxNorm))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "the clipping norm must be a finite non-negative number (0 = off)");
        var norm = Math.Sqrt(shardSquaredNorms.Sum());
        return (norm, maxNorm > 0 ? GradientClipping.ClipCoefficient(norm, maxNorm) : 1.0);
    }
}
