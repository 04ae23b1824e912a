namespace OrleansLm.Runtime.Membership;

/// <summary>A suspicion vote: <paramref name="Voter"/> missed its probes of the row's silo at <paramref name="Time"/>.</summary>
public sealed record Suspicion(SiloAddress Voter, DateTimeOffset Time);

/// <summary>
/// One row of the membership table. <see cref="Roles"/> and <see cref="Devices"/> describe what the silo offers
/// placement (constraint-based placement picks silos by role and free devices).
/// </summary>
public sealed record MembershipEntry(
    SiloAddress Silo,
    SiloStatus Status,
    string HostName,
    DateTimeOffset StartTime,
    DateTimeOffset IAmAliveTime,
    IReadOnlyList<Suspicion> Suspicions,
    IReadOnlyList<string> Roles,
    int Devices);

/// <summary>A row with the etag its store gave it; an update must present the etag it read (optimistic concurrency).</summary>
public sealed record VersionedEntry(MembershipEntry Entry, string ETag);

/// <summary>
/// The table's version: every insert or update of a row also advances it by one, in the same transaction, and
/// fails if another writer advanced it first — Orleans' ADO.NET clustering protocol.
/// </summary>
public sealed record TableVersion(long Version, string ETag)
{
    public TableVersion Next() => this with { Version = Version + 1 };
}

/// <summary>Every row and the table version, read together.</summary>
public sealed record MembershipSnapshot(IReadOnlyList<VersionedEntry> Entries, TableVersion Version);
