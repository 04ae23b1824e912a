using System.Diagnostics;
using System.Net;
using OrleansLm.Runtime.Membership;
using OrleansLm.Runtime.Tests.Infrastructure;
using OrleansLm.Testing;
using OrleansLm.Testing.Processes;
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
            output, victimKeys, victim.Address, clock, TestSiloProcesses.Membership.DetectionTime + TestSiloProcesses.Slack);
        output.WriteLine($"[test] {victimKeys.Count} grains answered from their new silos {elapsed.TotalMilliseconds:F0} ms after SIGKILL "
            + $"(detection time {TestSiloProcesses.Membership.DetectionTime.TotalMilliseconds:F0} ms)");

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
        var (after, _) = await cluster.AwaitMovedAsync(output, leavingKeys, leaving.Address, Stopwatch.StartNew(), TestSiloProcesses.Slack);

        output.WriteLine($"[test] exited {exited.TotalMilliseconds:F0} ms after SIGTERM");
        after.Values.Should().NotContain(leaving.Address);
        var row = (await postgres.Server.MembershipAsync(cluster.ClusterId)).Single(e => e.Silo == leaving.Address);
        row.Status.Should().Be(SiloStatus.Dead, "it wrote its own leave");
        row.Suspicions.Should().BeEmpty("nobody had to vote it out");
    }

    [Fact]
    public async Task ARestartedSiloProcessJoinsAsANewSiloInThePlaceOfTheOneItKilled()
    {
        await using var cluster = await StartThreeAsync();
        var predecessor = cluster.Processes[0];
        var view = () => cluster.Caller!.Membership.View;

        var successor = await cluster.RestartAsync(predecessor);

        predecessor.HasExited.Should().BeTrue("a restart SIGKILLs the process it replaces");
        successor.Address.Should().NotBe(predecessor.Address);
        cluster.Processes[0].Should().BeSameAs(successor);
        await Eventually.HoldsAsync(() => view().EntryOf(successor.Address)?.Status == SiloStatus.Active, TestSiloProcesses.Slack,
            "the caller sees the new silo Active");
        await Eventually.HoldsAsync(() => view().EntryOf(predecessor.Address)?.Status == SiloStatus.Dead,
            TestSiloProcesses.Membership.DetectionTime + TestSiloProcesses.Slack, "the killed silo is declared dead");
        (await cluster.PlaceAsync(Keys)).Values.Distinct().Should().BeEquivalentTo(
            cluster.Processes.Select(p => p.Address), "thirty grains spread over the two survivors and the new silo");
    }

    private async Task<ProcessCluster> StartThreeAsync()
    {
        var cluster = new ProcessCluster(output);
        try
        {
            var connection = postgres.Server.ConnectionString();
            await Task.WhenAll(Enumerable.Range(0, 3)
                .Select(_ => cluster.StartProcessAsync(TestSiloProcesses.Launch(cluster, connection, AnyLoopbackPort))));
            await cluster.StartCallerAsync(connection, AnyLoopbackPort);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }
}
