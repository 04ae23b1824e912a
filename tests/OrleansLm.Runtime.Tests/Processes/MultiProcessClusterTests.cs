using System.Diagnostics;
using System.Net;
using OrleansLm.Runtime.Membership;
using OrleansLm.Runtime.Tests.Infrastructure;
using OrleansLm.Runtime.TestSilo;
using Xunit.Abstractions;

namespace OrleansLm.Runtime.Tests.Processes;

/// <summary>Three silo processes on loopback with membership in a real PostgreSQL; the test's own silo calls their grains.</summary>
[Collection(PostgresCollection.Name)]
public sealed class MultiProcessClusterTests(PostgresFixture postgres, ITestOutputHelper output)
{
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);
    private static readonly string[] Keys = [.. Enumerable.Range(0, 30).Select(i => $"key-{i}")];

    [Fact]
    public async Task GrainsOfAKilledSiloProcessReactivateElsewhereWithinTheDetectionTime()
    {
        await using var cluster = await StartThreeAsync();
        var before = await cluster.PlaceAsync(Keys);
        before.Values.Distinct().Should().BeEquivalentTo(cluster.Processes.Select(p => p.Address), "thirty grains spread over all three silos");
        foreach (var key in Keys)
            (await cluster.Grain(key).Touch()).Should().Be(1);

        var victim = cluster.Processes[0];
        var victimKeys = Keys.Where(k => before[k] == victim.Address).ToList();
        var clock = Stopwatch.StartNew();
        victim.Kill();
        var (after, elapsed) = await cluster.AwaitMovedAsync(
            victimKeys, victim.Address, clock, ProcessCluster.Membership.DetectionTime + ProcessCluster.Slack);
        output.WriteLine($"[test] {victimKeys.Count} grains answered from their new silos {elapsed.TotalMilliseconds:F0} ms after SIGKILL "
            + $"(detection time {ProcessCluster.Membership.DetectionTime.TotalMilliseconds:F0} ms)");

        after.Values.Should().OnlyContain(home => home != victim.Address && cluster.Processes.Skip(1).Any(p => p.Address == home));
        foreach (var key in victimKeys)
            (await cluster.Grain(key).Touch()).Should().Be(1, $"{key} has a new activation, whose count starts over");
        foreach (var key in Keys.Except(victimKeys))
        {
            SiloAddress.Parse(await cluster.Grain(key).Where()).Should().Be(before[key], "grains of the living silos stay where they are");
            (await cluster.Grain(key).Touch()).Should().Be(2, "their activations lived on");
        }
        cluster.Caller!.Membership.View.EntryOf(victim.Address)!.Status.Should().Be(SiloStatus.Dead);
    }

    [Fact]
    public async Task ASiloProcessStoppedBySigtermLeavesAndItsGrainsMoveWithoutWaitingForDetection()
    {
        await using var cluster = await StartThreeAsync();
        var before = await cluster.PlaceAsync(Keys);
        var leaving = cluster.Processes[1];
        var leavingKeys = Keys.Where(k => before[k] == leaving.Address).ToList();
        leavingKeys.Should().NotBeEmpty();

        var clock = Stopwatch.StartNew();
        leaving.Terminate();
        (await leaving.WaitForExitAsync(TimeSpan.FromSeconds(20))).Should().Be(0, "a graceful leave exits cleanly");
        var exited = clock.Elapsed;
        var (after, _) = await cluster.AwaitMovedAsync(leavingKeys, leaving.Address, Stopwatch.StartNew(), ProcessCluster.Slack);

        output.WriteLine($"[test] exited {exited.TotalMilliseconds:F0} ms after SIGTERM");
        after.Values.Should().NotContain(leaving.Address);
        var row = (await TableAsync(cluster)).Single(e => e.Silo == leaving.Address);
        row.Status.Should().Be(SiloStatus.Dead, "it wrote its own leave");
        row.Suspicions.Should().BeEmpty("nobody had to vote it out");
    }

    private async Task<ProcessCluster> StartThreeAsync()
    {
        var cluster = new ProcessCluster(output, postgres.Server.ConnectionString());
        try
        {
            await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => cluster.StartProcessAsync(AnyLoopbackPort)));
            await cluster.StartCallerAsync(AnyLoopbackPort);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task<IReadOnlyList<MembershipEntry>> TableAsync(ProcessCluster cluster)
    {
        await using var table = new PostgresMembershipTable(new PostgresMembershipOptions(postgres.Server.ConnectionString(), cluster.ClusterId));
        return [.. (await table.ReadAllAsync(CancellationToken.None)).Entries.Select(e => e.Entry)];
    }
}
