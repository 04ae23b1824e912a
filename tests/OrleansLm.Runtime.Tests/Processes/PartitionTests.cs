using System.Diagnostics;
using System.Net;
using OrleansLm.Runtime.Membership;
using OrleansLm.Runtime.TestSilo;
using OrleansLm.Testing;
using OrleansLm.Testing.Processes;
using Xunit.Abstractions;

namespace OrleansLm.Runtime.Tests.Processes;

/// <summary>
/// A real network partition: one silo process runs in its own network namespace, reaching the others through one
/// veth pair and PostgreSQL through another. Cutting the first isolates it from the silos; cutting both also from
/// the membership table. Either way the others declare it dead and move its grains, and it stops serving.
/// </summary>
public sealed class PartitionTests(ITestOutputHelper output)
{
    private static readonly string[] Keys = [.. Enumerable.Range(0, 30).Select(i => $"key-{i}")];

    [NetworkNamespaceFact]
    public Task ASiloCutOffFromTheOtherSilosIsDeclaredDeadAndStopsServing() => PartitionAsync(cutTable: false);

    [NetworkNamespaceFact]
    public Task ASiloCutOffFromTheSilosAndTheTableStopsServingByItself() => PartitionAsync(cutTable: true);

    private async Task PartitionAsync(bool cutTable)
    {
        await using var network = await NetworkNamespace.CreateAsync(links: 2);
        var (siloLink, tableLink) = (network.Links[0], network.Links[1]);
        await using var postgres = await PostgresServer.StartAsync([tableLink.HostAddress]);
        await using var cluster = new ProcessCluster(output);
        var hostSide = new IPEndPoint(IPAddress.Parse(siloLink.HostAddress), 0);
        await Task.WhenAll(
            cluster.StartProcessAsync(TestSiloProcesses.Launch(cluster, postgres.ConnectionString(), hostSide)),
            cluster.StartProcessAsync(TestSiloProcesses.Launch(cluster, postgres.ConnectionString(), hostSide)),
            cluster.StartProcessAsync(TestSiloProcesses.Launch(cluster, postgres.ConnectionString(host: tableLink.HostAddress),
                new IPEndPoint(IPAddress.Parse(siloLink.NamespaceAddress), 0)).InNetworkNamespace(network.Name)));
        await cluster.StartCallerAsync(postgres.ConnectionString(), hostSide);
        var isolated = cluster.Processes.Single(p => p.Address.Host == siloLink.NamespaceAddress);

        var before = await cluster.PlaceAsync(Keys);
        var isolatedKeys = Keys.Where(k => before[k] == isolated.Address).ToList();
        isolatedKeys.Should().NotBeEmpty("thirty grains spread over three silos");
        foreach (var key in Keys)
            (await cluster.Grain(key).Touch()).Should().Be(1);

        var cutAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        await network.Cut(siloLink);
        if (cutTable) await network.Cut(tableLink);
        var bound = TestSiloProcesses.Membership.DetectionTime + TestSiloProcesses.Slack;
        var (after, moved) = await cluster.AwaitMovedAsync(output, isolatedKeys, isolated.Address, clock, bound);
        var stopped = await isolated.DeclaredDead.WaitAsync(bound - clock.Elapsed) - cutAt;
        (await isolated.WaitForExitAsync(TimeSpan.FromSeconds(10))).Should().Be(TestSiloHost.DeclaredDeadExitCode);
        output.WriteLine($"[test] cut at 0 ms; its {isolatedKeys.Count} grains answered elsewhere at {moved.TotalMilliseconds:F0} ms; "
            + $"it stopped at {stopped.TotalMilliseconds:F0} ms (detection time {TestSiloProcesses.Membership.DetectionTime.TotalMilliseconds:F0} ms)");

        cluster.Caller!.Membership.View.EntryOf(isolated.Address)!.Status.Should().Be(SiloStatus.Dead);
        after.Values.Should().NotContain(isolated.Address);
        await network.Heal(siloLink);
        await network.Heal(tableLink);
        foreach (var key in isolatedKeys)
        {
            SiloAddress.Parse(await cluster.Grain(key).Where()).Should().Be(after[key], "healing the network brings no old activation back");
            (await cluster.Grain(key).Touch()).Should().Be(1, "the grain was activated anew on a silo of the majority");
        }
    }
}
