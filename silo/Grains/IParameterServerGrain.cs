using OrleansLm.Runtime.Grains;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// One contiguous slice of a run's flat parameter vector and its optimizer state, keyed by (run, shard): it sums the
/// workers' gradient slices (weighted by tokens), takes part in global-norm clipping and applies the optimizer. Each
/// step may be attempted more than once (a worker lost mid-step): only the current attempt's gradients count.
/// </summary>
public interface IParameterServerGrain : IGrainWithCompoundKey
{
    /// <summary>Starts the slice at its initial values (step 0, attempt 0).</summary>
    Task Prepare(RunSpec spec);

    /// <summary>
    /// Starts the slice from a checkpoint file of this shard, after checking its sha256, at <paramref name="step"/>
    /// and <paramref name="attempt"/>.
    /// </summary>
    Task Restore(RunSpec spec, CheckpointFile file, long step, long attempt);

    /// <summary>The slice's current values.</summary>
    Task<float[]> Pull();

    /// <summary>A worker's gradient slice for <paramref name="step"/>, from batch parts of <paramref name="tokens"/> targets.</summary>
    Task Push(long step, long attempt, float[] gradient, long tokens);

    /// <summary>The squared norm of the mean gradient of <paramref name="step"/> (the coordinator sums the shards' to clip globally).</summary>
    Task<double> SquaredGradientNorm(long step, long attempt);

    /// <summary>
    /// Applies the optimizer to the mean gradient of <paramref name="step"/>, scaled by <paramref name="clipCoefficient"/>;
    /// returns the seconds the shard spent on this step's gradients (summing, norm, update).
    /// </summary>
    Task<double> Apply(long step, long attempt, double learningRate, double clipCoefficient);

    /// <summary>Drops the gradients of <paramref name="step"/> and goes on to the next step without an update (training.on_non_finite: skip).</summary>
    Task Skip(long step, long attempt);

    /// <summary>Drops the gradients of <paramref name="step"/> so far; from now on only <paramref name="attempt"/>'s count.</summary>
    Task Abandon(long step, long attempt);

    /// <summary>Writes the slice and its optimizer state, as of step <paramref name="step"/>, into <paramref name="directory"/>.</summary>
    Task<CheckpointFile> Checkpoint(long step, string directory);
}

/// <param name="Path">The file's path.</param>
/// <param name="Sha256">Its SHA-256, lowercase hex, of the bytes on disk after the write.</param>
public sealed record CheckpointFile(string Path, string Sha256, long Bytes);
