namespace OrleansLm.Runtime.Membership;

/// <summary>What a silo knows of the cluster: every row of one table read (Dead rows included), and the active ones.</summary>
public sealed class MembershipView
{
    private readonly Dictionary<SiloAddress, MembershipEntry> bySilo;

    public MembershipView(long version, IReadOnlyList<MembershipEntry> members)
    {
        Version = version;
        Members = members;
        ActiveMembers = [.. members.Where(m => m.Status == SiloStatus.Active)];
        bySilo = members.ToDictionary(m => m.Silo);
    }

    /// <summary>Before the first read: older than any table version.</summary>
    public static MembershipView Empty { get; } = new(-1, []);

    /// <summary>The table version this view was read at.</summary>
    public long Version { get; }

    public IReadOnlyList<MembershipEntry> Members { get; }

    /// <summary>The silos that take new placements and calls.</summary>
    public IReadOnlyList<MembershipEntry> ActiveMembers { get; }

    public MembershipEntry? EntryOf(SiloAddress silo) => bySilo.GetValueOrDefault(silo);

    /// <summary>The silos whose status differs from <paramref name="previous"/> (a silo new to the table has no previous status).</summary>
    public IReadOnlyList<SiloStatusChange> ChangesSince(MembershipView previous) =>
    [
        .. Members
            .Select(m => new SiloStatusChange(m.Silo, previous.EntryOf(m.Silo)?.Status, m.Status))
            .Where(change => change.Previous != change.Current),
    ];
}

/// <summary><paramref name="Silo"/> moved from <paramref name="Previous"/> (null: it was not in the table) to <paramref name="Current"/>.</summary>
public sealed record SiloStatusChange(SiloAddress Silo, SiloStatus? Previous, SiloStatus Current);

/// <summary>A newer table read changed some silo's status: the runtime's cue to update its ring, placement, and to fail calls to the dead.</summary>
public sealed record MembershipViewChange(MembershipView Previous, MembershipView Current, IReadOnlyList<SiloStatusChange> Changes);
