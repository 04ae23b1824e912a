using System.Net;
using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Hosting;
using OrleansLm.Runtime.Membership;

namespace OrleansLm.Runtime.TestSilo;

/// <summary>What a test silo process and the test's own silo share: the role, the grains and the membership timings.</summary>
public static class TestSiloHost
{
    public const string WorkerRole = "worker";

    /// <summary>The line a silo process prints once it is Active, followed by its address.</summary>
    public const string ReadyLine = "READY ";

    /// <summary>The line a silo process prints when the cluster declared it dead (it then exits with <see cref="DeclaredDeadExitCode"/>).</summary>
    public const string DeclaredDeadLine = "DECLARED-DEAD";

    public const int DeclaredDeadExitCode = 3;

    public const int BadArgumentsExitCode = 2;

    /// <summary>
    /// Failure detection within about six seconds (a refused connection, as after SIGKILL, within two): quick enough
    /// for a test, and a probe timeout that a just-started process, still compiling its transport, meets on a
    /// loaded 2-core machine (250 ms was not always enough).
    /// </summary>
    public static MembershipOptions Membership { get; } = new()
    {
        ProbePeriod = TimeSpan.FromMilliseconds(500),
        ProbeTimeout = TimeSpan.FromSeconds(1),
        NumMissedProbesLimit = 3,
        NumVotesForDeathDeclaration = 2,
        NumProbedSilos = 3,
        IAmAlivePeriod = TimeSpan.FromSeconds(1),
        TableRefreshPeriod = TimeSpan.FromMilliseconds(250),
        DeathVoteExpiration = TimeSpan.FromSeconds(10),
    };

    public static void AddGrains(IGrainRuntimeBuilder grains) => grains.AddGrain<IPlacedGrain, PlacedGrain>();

    public static ClusterSiloOptions Options(string clusterId, string secret, string postgres, IPEndPoint endPoint, IReadOnlyList<string> roles) => new()
    {
        ClusterId = clusterId,
        ClusterSecret = secret,
        PostgresConnectionString = postgres,
        EndPoint = endPoint,
        Roles = roles,
        Membership = Membership,
        DirectoryRequestTimeout = TimeSpan.FromSeconds(2),
    };
}
