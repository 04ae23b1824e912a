using System.Collections.Concurrent;

namespace OrleansLm.Silo.Runs;

/// <summary>Run state in this silo's memory: for a cluster of one, or silos in one test process.</summary>
public sealed class InMemoryRunStore : IRunStore
{
    private readonly ConcurrentDictionary<string, (RunRecord Record, long Saved)> records = new(StringComparer.Ordinal);
    private long saves;

    public Task SaveAsync(RunRecord record, CancellationToken cancellation)
    {
        records[record.RunId] = (record, Interlocked.Increment(ref saves));
        return Task.CompletedTask;
    }

    public Task<RunRecord?> LoadAsync(string runId, CancellationToken cancellation) =>
        Task.FromResult(records.TryGetValue(runId, out var entry) ? entry.Record : null);

    public Task<IReadOnlyList<RunRecord>> AllAsync(CancellationToken cancellation) =>
        Task.FromResult<IReadOnlyList<RunRecord>>([.. records.Values.OrderByDescending(e => e.Saved).Select(e => e.Record)]);

    public Task<IReadOnlyList<RunRecord>> UnfinishedAsync(CancellationToken cancellation) =>
        Task.FromResult<IReadOnlyList<RunRecord>>([.. records.Values.Select(e => e.Record).Where(r => r.Unfinished)]);
}
