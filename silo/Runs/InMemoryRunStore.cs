using System.Collections.Concurrent;

namespace OrleansLm.Silo.Runs;

/// <summary>Run state in this silo's memory: for a cluster of one, or silos in one test process.</summary>
public sealed class InMemoryRunStore : IRunStore
{
    private readonly ConcurrentDictionary<string, RunRecord> records = new(StringComparer.Ordinal);

    public Task SaveAsync(RunRecord record, CancellationToken cancellation)
    {
        records[record.RunId] = record;
        return Task.CompletedTask;
    }

    public Task<RunRecord?> LoadAsync(string runId, CancellationToken cancellation) => Task.FromResult(records.GetValueOrDefault(runId));

    public Task<IReadOnlyList<RunRecord>> UnfinishedAsync(CancellationToken cancellation) =>
        Task.FromResult<IReadOnlyList<RunRecord>>([.. records.Values.Where(r => r.Unfinished)]);
}
