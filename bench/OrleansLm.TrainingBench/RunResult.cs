using OrleansLm.Silo.Grains;

namespace OrleansLm.TrainingBench;

/// <summary>One training run: wall seconds per timed step, the training loss of every step, and the final validation loss.</summary>
internal sealed record RunResult(double SecondsPerStep, IReadOnlyList<double> Losses, double ValidationLoss)
{
    /// <summary>What only a cluster run measures; null for the single-process trainer.</summary>
    public ClusterStep? Cluster { get; init; }

    /// <summary>Cores the rest of the machine kept busy, on average, while the run ran (see <see cref="OrleansLm.Bench.MachineCpu"/>).</summary>
    public double OthersCores { get; init; } = double.NaN;
}

/// <param name="BytesPerStep">Bytes all silos' transports sent per timed step.</param>
/// <param name="ParameterBytesPerStep">
/// What the parameter traffic must cross silos per step where the grains were placed: 2 · 4 bytes · the length of each
/// shard for every worker on another silo than that shard (its pull and its push).
/// </param>
/// <param name="Phases">The run's <see cref="ITrainingRunGrain.Timings"/> over the timed steps only (workers' phases summed over workers).</param>
/// <param name="Placement">Where the coordinator, workers and shards lived.</param>
/// <param name="ThreadPoolThreads">The process's thread-pool threads at the end of the timed steps.</param>
internal sealed record ClusterStep(double BytesPerStep, double ParameterBytesPerStep, StepTimings Phases, string Placement, int ThreadPoolThreads);
