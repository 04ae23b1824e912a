using System.Diagnostics;
using System.Net;
using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Membership;
using OrleansLm.Runtime.TestSilo;
using OrleansLm.Testing.Processes;
using Xunit.Abstractions;

namespace OrleansLm.Runtime.Tests.Processes;

/// <summary>
/// A <see cref="ProcessCluster"/> of test silo processes (tests/OrleansLm.Runtime.TestSilo, built beside the tests)
/// whose <see cref="IPlacedGrain"/>s the test's own silo calls; it has no worker role, so none lands on it.
/// </summary>
public static class TestSiloProcesses
{
    /// <summary>Room, beyond the configured detection time, for process scheduling on a loaded 2-core test machine.</summary>
    public static readonly TimeSpan Slack = TimeSpan.FromSeconds(4);

    public static MembershipOptions Membership => TestSiloHost.Membership;

    public static SiloLaunch Launch(ProcessCluster cluster, string postgres, IPEndPoint listen) =>
        SiloLaunch.DotnetProgram(
            "OrleansLm.Runtime.TestSilo.dll",
            ["--cluster", cluster.ClusterId, "--secret", ProcessCluster.Secret, "--postgres", postgres, "--listen", listen.ToString()],
            TestSiloHost.ReadyLine) with { DeclaredDeadLine = TestSiloHost.DeclaredDeadLine };

    public static Task<ClusterSilo> StartCallerAsync(this ProcessCluster cluster, string postgres, IPEndPoint listen) =>
        cluster.StartCallerAsync(
            TestSiloHost.Options(cluster.ClusterId, ProcessCluster.Secret, postgres, listen, roles: []), TestSiloHost.AddGrains);

    public static IPlacedGrain Grain(this ProcessCluster cluster, string key) =>
        (cluster.Caller ?? throw new InvalidOperationException("no caller silo")).GrainFactory.GetGrain<IPlacedGrain>(key);

    /// <summary>Where each key's activation runs, activating them on first call.</summary>
    public static async Task<Dictionary<string, SiloAddress>> PlaceAsync(this ProcessCluster cluster, IEnumerable<string> keys)
    {
        var placed = new Dictionary<string, SiloAddress>();
        foreach (var key in keys)
            placed[key] = SiloAddress.Parse(await cluster.Grain(key).Where());
        return placed;
    }

    /// <summary>
    /// Calls each key until it answers from a silo other than <paramref name="gone"/>, failing after
    /// <paramref name="within"/>; returns the new homes and how long the last key took.
    /// </summary>
    public static async Task<(Dictionary<string, SiloAddress> Homes, TimeSpan Elapsed)> AwaitMovedAsync(
        this ProcessCluster cluster, ITestOutputHelper output, IEnumerable<string> keys, SiloAddress gone, Stopwatch since, TimeSpan within)
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
                    var home = SiloAddress.Parse(await cluster.Grain(key).Where().WaitAsync(within - since.Elapsed));
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
}
