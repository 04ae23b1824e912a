namespace OrleansLm.Runtime.Membership;

/// <summary>What this silo publishes in its membership row for placement to read.</summary>
public sealed record LocalSiloDetails(SiloAddress Address, string HostName, IReadOnlyList<string> Roles, int Devices);
