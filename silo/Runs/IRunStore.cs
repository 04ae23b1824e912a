using OrleansLm.Silo.Grains;

namespace OrleansLm.Silo.Runs;

/// <summary>
/// Where a cluster keeps its training runs' state, so that a run outlives the silo of its coordinator: PostgreSQL when
/// the cluster uses it, this silo's memory otherwise.
/// </summary>
public interface IRunStore
{
    Task SaveAsync(RunRecord record, CancellationToken cancellation);

    Task<RunRecord?> LoadAsync(string runId, CancellationToken cancellation);

    /// <summary>Every run of the cluster, the most recently saved first.</summary>
    Task<IReadOnlyList<RunRecord>> AllAsync(CancellationToken cancellation);

    /// <summary>The runs that were running or paused when last saved: a coordinator should hold them.</summary>
    Task<IReadOnlyList<RunRecord>> UnfinishedAsync(CancellationToken cancellation);
}

/// <param name="Step">Steps done when saved.</param>
/// <param name="CheckpointStep">The newest checkpoint's step, or -1.</param>
public sealed record RunRecord(string RunId, RunSpec Spec, RunState State, long Step, long CheckpointStep, string? Error)
{
    public bool Unfinished => State is RunState.Running or RunState.Paused;
}
