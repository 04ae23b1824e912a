namespace OrleansLm.Runtime.Membership;

/// <summary>
/// Where the cluster's members are recorded: in memory (one process, the default) or PostgreSQL. Writes are
/// conditional on the table version (and, for updates, the row's etag); a false result means another writer
/// won and the caller should re-read and retry.
/// </summary>
public interface IMembershipTable
{
    /// <summary>Creates the schema and the cluster's version row if missing; safe to call from every silo at once.</summary>
    Task InitializeAsync(CancellationToken cancellation);

    Task<MembershipSnapshot> ReadAllAsync(CancellationToken cancellation);

    /// <summary>Inserts a row for a new silo and sets the table version to <paramref name="version"/>, if the stored version is still its predecessor.</summary>
    Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion version, CancellationToken cancellation);

    /// <summary>
    /// Replaces a row if its etag is still <paramref name="etag"/> and the table version still precedes <paramref name="version"/>.
    /// The stored IAmAlive time keeps the later of the two: a vote written from an older read must not set a heartbeat back.
    /// </summary>
    Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion version, CancellationToken cancellation);

    /// <summary>Refreshes only the row's IAmAlive time: a heartbeat, not a membership change, so no version check.</summary>
    Task UpdateIAmAliveAsync(SiloAddress silo, DateTimeOffset time, CancellationToken cancellation);
}
