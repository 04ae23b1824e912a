using System.Globalization;

namespace OrleansLm.Runtime.Membership;

/// <summary>
/// The default membership table: one instance shared by every silo of a single process. Same protocol as the
/// PostgreSQL table (a table version advanced by every row write, per-row etags), guarded by one lock.
/// </summary>
public sealed class InMemoryMembershipTable : IMembershipTable
{
    private readonly Lock gate = new();
    private readonly Dictionary<SiloAddress, VersionedEntry> rows = [];
    private long version;
    private long lastETag;

    public Task InitializeAsync(CancellationToken cancellation) => Task.CompletedTask;

    public Task<MembershipSnapshot> ReadAllAsync(CancellationToken cancellation)
    {
        lock (gate)
            return Task.FromResult(new MembershipSnapshot([.. rows.Values], CurrentVersion()));
    }

    public Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion version, CancellationToken cancellation)
    {
        lock (gate)
        {
            if (!IsSuccessor(version) || rows.ContainsKey(entry.Silo))
                return Task.FromResult(false);
            Store(entry, version);
            return Task.FromResult(true);
        }
    }

    public Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion version, CancellationToken cancellation)
    {
        lock (gate)
        {
            if (!IsSuccessor(version) || !rows.TryGetValue(entry.Silo, out var stored) || stored.ETag != etag)
                return Task.FromResult(false);
            var latestIAmAlive = entry.IAmAliveTime > stored.Entry.IAmAliveTime ? entry.IAmAliveTime : stored.Entry.IAmAliveTime;
            Store(entry with { IAmAliveTime = latestIAmAlive }, version);
            return Task.FromResult(true);
        }
    }

    public Task UpdateIAmAliveAsync(SiloAddress silo, DateTimeOffset time, CancellationToken cancellation)
    {
        lock (gate)
        {
            // A heartbeat keeps the row's etag: it must not make a concurrent suspicion vote or status change fail.
            if (rows.TryGetValue(silo, out var stored))
                rows[silo] = stored with { Entry = stored.Entry with { IAmAliveTime = time } };
        }
        return Task.CompletedTask;
    }

    private bool IsSuccessor(TableVersion next) => next.Version == version + 1;

    private TableVersion CurrentVersion() => new(version, version.ToString(CultureInfo.InvariantCulture));

    private void Store(MembershipEntry entry, TableVersion next)
    {
        // Copies the lists so a caller mutating the list it passed cannot change the stored row.
        var frozen = entry with { Suspicions = [.. entry.Suspicions], Roles = [.. entry.Roles] };
        rows[entry.Silo] = new VersionedEntry(frozen, (++lastETag).ToString(CultureInfo.InvariantCulture));
        version = next.Version;
    }
}
