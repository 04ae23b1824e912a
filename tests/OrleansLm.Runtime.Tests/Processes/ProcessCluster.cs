using System.Diagnostics;
using System.Net;
using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Membership;
using OrleansLm.Runtime.Tests.Infrastructure;
using OrleansLm.Runtime.Tests.Membership;
using OrleansLm.Runtime.TestSilo;
using Xunit.Abstractions;

namespace OrleansLm.Runtime.Tests.Processes;

/// <summary>
/// Silo processes sharing a PostgreSQL membership table, plus a silo in the test process that only calls (it has no
/// worker role, so no <see cref="IPlacedGrain"/> lands on it).
/// </summary>
public sealed class ProcessCluster(ITestOutputHelper output, string postgres) : IAsyncDisposable
{
    public const string Secret = "process-cluster-secret";

    /// <summary>Room, beyond the configured detection time, for process scheduling on a loaded 2-core test machine.</summary>
    public static readonly TimeSpan Slack = TimeSpan.FromSeconds(4);

    private readonly List<SiloProcess> processes = [];
    private int started;

    public string ClusterId { get; } = $"processes-{Guid.NewGuid():N}";

    public IReadOnlyList<SiloProcess> Processes => processes;

    public ClusterSilo? Caller { get; private set; }

    public static MembershipOptions Membership => TestSiloHost.Membership;

    public async Task<SiloProcess> StartProcessAsync(IPEndPoint listen, string? postgresForProcess = null, string? networkNamespace = null)
    {
        var name = $"silo{Interlocked.Increment(ref started) - 1}";
        var silo = await SiloProcess.StartAsync(output, name, ClusterId, Secret, postgresForProcess ?? postgres, listen, networkNamespace);
        lock (processes)
            processes.Add(silo);
        return silo;
    }

    /// <summary>Starts the test's own silo and waits until it sees every process Active.</summary>
    public async Task<ClusterSilo> StartCallerAsync(IPEndPoint listen)
    {
        Caller = new ClusterSilo(TestSiloHost.Options(ClusterId, Secret, postgres, listen, roles: []), TestSiloHost.AddGrains,
            TestOutputLoggerProvider.Factory(output, "caller"));
        await Caller.StartAsync(CancellationToken.None);
        await TestCluster.EventuallyAsync(
            () => Caller.Membership.ActiveMembers.Count == processes.Count + 1, TimeSpan.FromSeconds(20), "the caller sees every silo process Active");
        // The processes learn of the caller's join at their next table refresh; until then their directory rings
        // disagree with the caller's, and a grain placed meanwhile may be activated twice (the hand-off later removes
        // one). The tests count activations, so they start once every view has caught up.
        await Task.Delay(Membership.TableRefreshPeriod * 3);
        return Caller;
    }

    public IPlacedGrain Grain(string key) => (Caller ?? throw new InvalidOperationException("no caller silo")).GrainFactory.GetGrain<IPlacedGrain>(key);

    /// <summary>Where each key's activation runs, activating them on first call.</summary>
    public async Task<Dictionary<string, SiloAddress>> PlaceAsync(IEnumerable<string> keys)
    {
        var placed = new Dictionary<string, SiloAddress>();
        foreach (var key in keys)
            placed[key] = SiloAddress.Parse(await Grain(key).Where());
        return placed;
    }

    /// <summary>
    /// Calls each key until it answers from a silo other than <paramref name="gone"/>, failing after
    /// <paramref name="within"/>; returns the new homes and how long the last key took.
    /// </summary>
    public async Task<(Dictionary<string, SiloAddress> Homes, TimeSpan Elapsed)> AwaitMovedAsync(
        IEnumerable<string> keys, SiloAddress gone, Stopwatch since, TimeSpan within)
    {
        var homes = new Dictionary<string, SiloAddress>();
        foreach (var key in keys)
        {
            while (!homes.ContainsKey(key))
            {
                if (since.Elapsed > within)
                    throw new TimeoutException($"{key} did not answer from a silo other than {gone} within {within}");
                try
                {
                    var home = SiloAddress.Parse(await Grain(key).Where().WaitAsync(within - since.Elapsed));
                    if (home != gone) homes[key] = home;
                }
                catch (Exception e) when (e is not TimeoutException || since.Elapsed <= within)
                {
                    output.WriteLine($"[test] {key} at {since.ElapsedMilliseconds} ms: {e.GetType().Name}: {e.Message}");
                    await Task.Delay(50);
                }
            }
        }
        return (homes, since.Elapsed);
    }

    public async ValueTask DisposeAsync()
    {
        if (Caller is not null)
            await Caller.DisposeAsync();
        foreach (var process in processes)
            await process.DisposeAsync();
    }
}
