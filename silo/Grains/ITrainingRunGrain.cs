using OrleansLm.Runtime.Grains;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// The coordinator of one training run, keyed by run id: it owns the run's spec, step counter and worker set, and
/// drives the synchronous data-parallel steps over its <see cref="IWorkerGrain"/>s and <see cref="IParameterServerGrain"/>s.
/// </summary>
public interface ITrainingRunGrain : IGrainWithStringKey
{
    /// <summary>Starts the run (a second start of a running run is refused); returns its status.</summary>
    Task<RunStatus> Start(RunSpec spec);

    Task<RunStatus> Status();

    /// <summary>Waits until the run has finished, failed or stopped, up to <paramref name="timeout"/>; returns its status then.</summary>
    Task<RunStatus> WaitForEnd(TimeSpan timeout);
}

/// <param name="ConfigJson">The run's <c>RunConfig</c>, as <c>ConfigFile.ToJson</c> writes it.</param>
/// <param name="Workers">Data-parallel workers N; each takes batch_size / N rows of every batch.</param>
/// <param name="ParameterServers">Parameter-server shards K, each owning a contiguous slice of the parameters.</param>
public sealed record RunSpec(string ConfigJson, int Workers, int ParameterServers);

public enum RunState { NotStarted, Running, Completed, Failed }

/// <param name="Losses">The training loss of every step so far (a researcher's loss curve, and what equivalence tests compare).</param>
public sealed record RunStatus(
    string RunId, RunState State, long Step, long TotalSteps, double Loss, double ValidationLoss, double TokensPerSecond,
    int Workers, string? Error, IReadOnlyList<double> Losses);
