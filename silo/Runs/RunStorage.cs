namespace OrleansLm.Silo.Runs;

/// <summary>Where this silo's coordinators keep run state and, unless a run names its own directory, checkpoints.</summary>
/// <param name="CheckpointRoot">An absolute directory; a run's checkpoints go to CheckpointRoot/run-id. Every silo must reach it (a shared volume).</param>
public sealed record RunStorage(IRunStore Store, string CheckpointRoot)
{
    /// <summary>Memory and a new temporary directory: a cluster that lives in one process (tests, a laptop).</summary>
    public static RunStorage InProcess() => new(new InMemoryRunStore(), Directory.CreateTempSubdirectory("olm-checkpoints-").FullName);
}
