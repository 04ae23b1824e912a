using OrleansLm.Runtime.Membership;
using OrleansLm.Runtime.Tests.Infrastructure;
using OrleansLm.Testing;
using Xunit.Abstractions;

namespace OrleansLm.Runtime.Tests.Membership;

/// <summary>Membership services sharing a cluster in PostgreSQL, each through its own table client as separate processes would.</summary>
[Collection(PostgresCollection.Name)]
public sealed class MembershipOverPostgresTests(PostgresFixture postgres, ITestOutputHelper output)
{
    [Fact]
    public async Task ASiloThatStopsAnsweringIsDeclaredDeadThroughPostgres()
    {
        var options = new PostgresMembershipOptions(postgres.Server.ConnectionString(), $"e2e-{Guid.NewGuid():N}");
        await using var cluster = new TestCluster(output, () => new PostgresMembershipTable(options));
        var silos = await cluster.StartAsync(13_001, 13_002, 13_003);
        var (a, b, victim) = (silos[0], silos[1], silos[2]);
        await Eventually.HoldsAsync(() => silos.All(s => s.Service.ActiveMembers.Count == 3), TimeSpan.FromSeconds(10), "all see three Active");

        cluster.Isolate(victim);

        var detection = await Eventually.HoldsAsync(
            () => a.Sees(victim) == SiloStatus.Dead && b.Sees(victim) == SiloStatus.Dead, TimeSpan.FromSeconds(10), "survivors see the victim Dead");
        detection.Should().BeLessThan(cluster.Options.DetectionTime + TimeSpan.FromSeconds(1));
        await victim.DeclaredDead.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var row = await victim.RowAsync();
        row.Status.Should().Be(SiloStatus.Dead);
        row.Suspicions.Select(s => s.Voter).Should().BeEquivalentTo([a.Address, b.Address]);
        a.Service.ActiveMembers.Select(m => m.Silo).Should().BeEquivalentTo([a.Address, b.Address]);
        b.Service.ActiveMembers.Select(m => m.Silo).Should().BeEquivalentTo([a.Address, b.Address]);

        await b.Service.LeaveAsync(CancellationToken.None);
        await Eventually.HoldsAsync(() => a.Service.ActiveMembers.Count == 1, TimeSpan.FromSeconds(10), "a sees b leave");
        a.DeclaredDead.Task.IsCompleted.Should().BeFalse();
    }
}
