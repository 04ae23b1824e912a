using OrleansLm.Runtime.Grains;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// One contiguous slice of a run's flat parameter vector and its optimizer state, keyed by (run, shard): it sums the
/// workers' gradient slices (weighted by tokens), takes part in global-norm clipping and applies the optimizer.
/// </summary>
public interface IParameterServerGrain : IGrainWithCompoundKey
{
    Task Prepare(RunSpec spec);

    /// <summary>The slice's current values.</summary>
    Task<float[]> Pull();

    /// <summary>A worker's gradient slice for <paramref name="step"/>, from a batch part of <paramref name="tokens"/> targets.</summary>
    Task Push(long step, float[] gradient, long tokens);

    /// <summary>The squared norm of the mean gradient of <paramref name="step"/> (the coordinator sums the shards' to clip globally).</summary>
    Task<double> SquaredGradientNorm(long step);

    /// <summary>Applies the optimizer to the mean gradient of <paramref name="step"/>, scaled by <paramref name="clipCoefficient"/>.</summary>
    Task Apply(long step, double learningRate, double clipCoefficient);
}
