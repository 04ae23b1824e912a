using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Hosting;
using OrleansLm.Runtime.Membership;
using OrleansLm.Runtime.Tests.Membership;
using OrleansLm.Testing;
using Xunit.Abstractions;

namespace OrleansLm.Runtime.Tests.Cluster;

/// <summary>
/// Cluster silos in this process on loopback ports, sharing one in-memory membership table, with failure detection
/// in about a second (<see cref="TestCluster.FastOptions"/>).
/// </summary>
public sealed class ClusterTestSilos(ITestOutputHelper output) : IAsyncDisposable
{
    public const string Secret = "test-cluster-secret";

    private readonly List<ClusterSilo> silos = [];

    public InMemoryMembershipTable Table { get; } = new();

    public IReadOnlyList<ClusterSilo> Silos => silos;

    public static MembershipOptions Membership => TestCluster.FastOptions;

    /// <summary>Detection time plus room for a slow, shared test machine.</summary>
    public static TimeSpan DetectionBound => Membership.DetectionTime + TimeSpan.FromSeconds(3);

    public static void AddGrains(IGrainRuntimeBuilder grains) =>
        grains.AddGrain<IClusterGrain, ClusterGrain>().AddGrain<IClusterDeviceGrain, ClusterDeviceGrain>();

    public async Task<IReadOnlyList<ClusterSilo>> StartAsync(int count)
    {
        var started = new List<ClusterSilo>();
        for (var i = 0; i < count; i++)
            started.Add(await StartSiloAsync());
        await RefreshViewsAsync();
        return started;
    }

    /// <param name="beforeDeactivation">The silo's <see cref="ClusterSiloOptions.BeforeDeactivation"/> hook, given the silo.</param>
    public async Task<ClusterSilo> StartSiloAsync(string secret = Secret, int devices = 0, Func<ClusterSilo, CancellationToken, Task>? beforeDeactivation = null)
    {
        ClusterSilo? silo = null;
        silo = new ClusterSilo(
            new ClusterSiloOptions
            {
                ClusterId = "test",
                ClusterSecret = secret,
                Roles = ["worker"],
                Devices = devices,
                MembershipTable = Table,
                Membership = Membership,
                DirectoryRequestTimeout = TimeSpan.FromSeconds(2),
                BeforeDeactivation = beforeDeactivation is null ? null : cancellation => beforeDeactivation(silo!, cancellation),
            },
            AddGrains,
            TestOutputLoggerProvider.Factory(output, $"silo{silos.Count}"));
        silos.Add(silo);
        await silo.StartAsync(CancellationToken.None);
        return silo;
    }

    /// <summary>
    /// Every silo reads the table now, so all views (and directory rings) agree. Until then a silo that joined first
    /// owns every key in its own view; registrations made meanwhile are reconciled by the hand-off, which tests of
    /// exactly-once activation would otherwise have to wait for.
    /// </summary>
    public Task RefreshViewsAsync() => Task.WhenAll(silos.Select(s => s.Membership.RefreshAsync(CancellationToken.None)));

    /// <summary>Waits until every silo in <paramref name="observers"/> sees <paramref name="silo"/> with <paramref name="status"/>.</summary>
    public static Task<TimeSpan> SeenAsync(IEnumerable<ClusterSilo> observers, ClusterSilo silo, SiloStatus status, TimeSpan timeout) =>
        Eventually.HoldsAsync(() => observers.All(o => o.Membership.View.EntryOf(silo.Address)?.Status == status), timeout,
            $"{silo.Address} seen {status}");

    public async ValueTask DisposeAsync()
    {
        foreach (var silo in silos)
            await silo.DisposeAsync();
    }
}
