namespace OrleansLm.Runtime.Membership;

/// <summary>
/// Failure detection and table upkeep, as Orleans' ClusterMembershipOptions. The others see a crashed silo Dead
/// within <see cref="DetectionTime"/> (9 s with the defaults) after it stops answering.
/// </summary>
public sealed record MembershipOptions
{
    /// <summary>How often a silo probes each silo it monitors.</summary>
    public TimeSpan ProbePeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A probe not answered within this time is a missed probe.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Consecutive missed probes after which the prober votes the target suspect.</summary>
    public int NumMissedProbesLimit { get; init; } = 3;

    /// <summary>
    /// Fresh votes from distinct silos that declare a silo dead; a majority of the active silos suffices when the
    /// cluster is smaller (a cluster of two cannot otherwise evict anyone).
    /// </summary>
    public int NumVotesForDeathDeclaration { get; init; } = 2;

    /// <summary>How many ring successors each silo probes; every silo is then probed by as many others.</summary>
    public int NumProbedSilos { get; init; } = 3;

    /// <summary>How often a silo writes its IAmAlive time (a heartbeat for operators and tools, not part of voting).</summary>
    public TimeSpan IAmAlivePeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the table is read even when nothing local prompts it (how others' status changes are learnt).</summary>
    public TimeSpan TableRefreshPeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Votes older than this no longer count: a silo that was briefly slow long ago is not evicted by old news.</summary>
    public TimeSpan DeathVoteExpiration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A bound on how long after a silo stops answering the others see it Dead: the voters' missed probes (each up to
    /// a timeout late), one more probe for the vote that completes the count, then a table refresh.
    /// </summary>
    public TimeSpan DetectionTime => (ProbePeriod + ProbeTimeout) * (NumMissedProbesLimit + 1) + TableRefreshPeriod;

    public void Validate()
    {
        RequirePositive(ProbePeriod, nameof(ProbePeriod));
        RequirePositive(ProbeTimeout, nameof(ProbeTimeout));
        RequirePositive(IAmAlivePeriod, nameof(IAmAlivePeriod));
        RequirePositive(TableRefreshPeriod, nameof(TableRefreshPeriod));
        RequirePositive(DeathVoteExpiration, nameof(DeathVoteExpiration));
        RequireAtLeastOne(NumMissedProbesLimit, nameof(NumMissedProbesLimit));
        RequireAtLeastOne(NumVotesForDeathDeclaration, nameof(NumVotesForDeathDeclaration));
        RequireAtLeastOne(NumProbedSilos, nameof(NumProbedSilos));
        if (DeathVoteExpiration <= ProbePeriod * NumMissedProbesLimit)
            throw new ArgumentException(
                $"MembershipOptions.{nameof(DeathVoteExpiration)} ({DeathVoteExpiration}) must exceed {nameof(ProbePeriod)} × "
                + $"{nameof(NumMissedProbesLimit)} ({ProbePeriod * NumMissedProbesLimit}), or votes expire before others can join them");
    }

    private static void RequirePositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
            throw new ArgumentException($"MembershipOptions.{name} must be positive, not {value}");
    }

    private static void RequireAtLeastOne(int value, string name)
    {
        if (value < 1)
            throw new ArgumentException($"MembershipOptions.{name} must be at least 1, not {value}");
    }
}
