using OrleansLm.Runtime.Membership;
using OrleansLm.Testing;
using Xunit.Abstractions;

namespace OrleansLm.Runtime.Tests.Membership;

/// <summary>
/// A silo that loses the membership table as well as its peers must stop by itself: it cannot read the verdict the
/// others write. Losing only one of the two must not stop it.
/// </summary>
public sealed class MembershipCutOffTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly InMemoryMembershipTable table = new();
    private readonly List<SeverableMembershipTable> ways = [];
    private readonly TestCluster cluster;

    public MembershipCutOffTests(ITestOutputHelper output)
    {
        cluster = new TestCluster(output, () =>
        {
            var way = new SeverableMembershipTable(table);
            ways.Add(way);
            return way;
        });
    }

    private static MembershipOptions Options => TestCluster.FastOptions;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await cluster.DisposeAsync();

    [Fact]
    public async Task ASiloCutOffFromItsPeersAndTheTableStopsItselfWhileTheOthersDeclareItDead()
    {
        var (a, b, victim) = await StartThreeAsync(11_101);

        ways[2].Sever();
        CutBothWays(victim, a, b);

        var stoppedAfter = await Eventually.HoldsAsync(() => victim.DeclaredDead.Task.IsCompleted, Patience, "the cut-off silo stops itself");
        stoppedAfter.Should().BeGreaterThan(Options.ProbePeriod * (Options.NumMissedProbesLimit - 1), "it waits for its missed probes");
        await Eventually.HoldsAsync(() => a.Sees(victim) == SiloStatus.Dead && b.Sees(victim) == SiloStatus.Dead, Patience, "the others declare it dead");
        a.DeclaredDead.Task.IsCompleted.Should().BeFalse();
        b.DeclaredDead.Task.IsCompleted.Should().BeFalse();
    }

    [Fact]
    public async Task ASiloThatOnlyLosesTheTableKeepsServing()
    {
        var (_, _, victim) = await StartThreeAsync(11_111);

        ways[2].Sever();
        await Task.Delay(Options.DetectionTime * 2);

        victim.DeclaredDead.Task.IsCompleted.Should().BeFalse("its peers still answer, so nobody can be evicting it");
        ways[2].Heal();
        (await victim.RowAsync()).Status.Should().Be(SiloStatus.Active);
    }

    [Fact]
    public async Task ASiloThatOnlyLosesItsPeersWaitsForTheTableVerdict()
    {
        var (a, b, victim) = await StartThreeAsync(11_121);

        // Its own probes fail, but the others reach it: one silo's votes cannot evict two, and it keeps reading the table.
        cluster.Cut(victim, a);
        cluster.Cut(victim, b);
        await Eventually.HoldsAsync(
            async () => (await a.RowAsync()).Suspicions.Any(s => s.Voter == victim.Address), Patience, "the victim votes against a");
        await Task.Delay(Options.DetectionTime);

        victim.DeclaredDead.Task.IsCompleted.Should().BeFalse();
        (await a.RowAsync()).Status.Should().Be(SiloStatus.Active);
        (await b.RowAsync()).Status.Should().Be(SiloStatus.Active);
    }

    private async Task<(TestSilo A, TestSilo B, TestSilo Victim)> StartThreeAsync(int firstPort)
    {
        var silos = await cluster.StartAsync(firstPort, firstPort + 1, firstPort + 2);
        await Eventually.HoldsAsync(() => silos.All(s => s.Service.ActiveMembers.Count == 3), Patience, "all see three Active");
        return (silos[0], silos[1], silos[2]);
    }

    private void CutBothWays(TestSilo victim, params TestSilo[] others)
    {
        foreach (var other in others)
        {
            cluster.Cut(victim, other);
            cluster.Cut(other, victim);
        }
    }
}
