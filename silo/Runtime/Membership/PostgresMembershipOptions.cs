namespace OrleansLm.Runtime.Membership;

/// <summary>
/// Where the PostgreSQL membership table lives. Several clusters may share one database: every row is keyed by
/// <see cref="ClusterId"/>.
/// </summary>
public sealed record PostgresMembershipOptions(string ConnectionString, string ClusterId);
