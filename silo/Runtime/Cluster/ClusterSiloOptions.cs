using System.Net;
using OrleansLm.Runtime.Hosting;
using OrleansLm.Runtime.Membership;

namespace OrleansLm.Runtime.Cluster;

/// <summary>How a <see cref="ClusterSilo"/> joins its cluster: identity, transport, membership provider and timings.</summary>
public sealed class ClusterSiloOptions
{
    /// <summary>Names the cluster in the membership table (several clusters may share a database).</summary>
    public string ClusterId { get; set; } = "";

    /// <summary>Shared by every silo of the cluster; the silo port refuses callers that cannot prove they know it.</summary>
    public string ClusterSecret { get; set; } = "";

    /// <summary>Where the transport listens; port 0 picks a free one.</summary>
    public IPEndPoint EndPoint { get; set; } = new(IPAddress.Loopback, 0);

    /// <summary>The IP other silos dial; required when <see cref="EndPoint"/> is a wildcard address.</summary>
    public string? AdvertisedHost { get; set; }

    public IReadOnlyList<string> Roles { get; set; } = [];

    /// <summary>Devices (accelerators) this silo offers to grains that require one.</summary>
    public int Devices { get; set; }

    /// <summary>The PostgreSQL membership table's connection string; null for <see cref="MembershipTable"/> or in-memory.</summary>
    public string? PostgresConnectionString { get; set; }

    /// <summary>An in-process table shared by the silos of one process (tests); with neither this nor a connection string, a private in-memory table.</summary>
    public IMembershipTable? MembershipTable { get; set; }

    public MembershipOptions Membership { get; set; } = new();

    /// <summary>How long a directory request to a partition owner may take before it counts as a failed try.</summary>
    public TimeSpan DirectoryRequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public Action<GrainRuntimeOptions>? ConfigureRuntime { get; set; }

    /// <summary>
    /// Runs when the silo leaves gracefully, once it is ShuttingDown (no silo places new activations here) and before
    /// its activations are deactivated: the application saves what its grains hold that a deactivation would lose
    /// (a checkpoint). It gets the stop's cancellation; a failure is logged and the leave goes on.
    /// </summary>
    public Func<CancellationToken, Task>? BeforeDeactivation { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first unusable option.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ClusterId))
            throw new ArgumentException($"{nameof(ClusterSiloOptions)}.{nameof(ClusterId)} is empty", nameof(ClusterId));
        if (string.IsNullOrEmpty(ClusterSecret))
            throw new ArgumentException($"{nameof(ClusterSiloOptions)}.{nameof(ClusterSecret)} is empty: the silo port requires a cluster secret", nameof(ClusterSecret));
        ArgumentNullException.ThrowIfNull(EndPoint, nameof(EndPoint));
        if (Devices < 0)
            throw new ArgumentException($"{nameof(ClusterSiloOptions)}.{nameof(Devices)} is {Devices}; it cannot be negative", nameof(Devices));
        if (Roles.Any(string.IsNullOrWhiteSpace))
            throw new ArgumentException($"{nameof(ClusterSiloOptions)}.{nameof(Roles)} contains an empty role", nameof(Roles));
        if (PostgresConnectionString is not null && MembershipTable is not null)
            throw new ArgumentException(
                $"{nameof(ClusterSiloOptions)}.{nameof(PostgresConnectionString)} and {nameof(MembershipTable)} are both set; choose one provider",
                nameof(PostgresConnectionString));
        if (DirectoryRequestTimeout <= TimeSpan.Zero)
            throw new ArgumentException(
                $"{nameof(ClusterSiloOptions)}.{nameof(DirectoryRequestTimeout)} is {DirectoryRequestTimeout}; it must be positive", nameof(DirectoryRequestTimeout));
        Membership.Validate();
    }
}
