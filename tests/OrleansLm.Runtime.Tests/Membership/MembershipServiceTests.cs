using OrleansLm.Runtime.Membership;
using OrleansLm.Testing;
using Xunit.Abstractions;

namespace OrleansLm.Runtime.Tests.Membership;

public sealed class MembershipServiceTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly InMemoryMembershipTable table = new();
    private readonly ITestOutputHelper output;
    private readonly TestCluster cluster;

    public MembershipServiceTests(ITestOutputHelper output)
    {
        this.output = output;
        cluster = new TestCluster(output, () => table);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await cluster.DisposeAsync();

    private static MembershipOptions Options => TestCluster.FastOptions;

    [Fact]
    public async Task SilosJoiningAtOnceAllBecomeActiveAndSeeEachOther()
    {
        var silos = await cluster.StartAsync(11_001, 11_002, 11_003, 11_004, 11_005, 11_006);

        var snapshot = await table.ReadAllAsync(CancellationToken.None);
        snapshot.Entries.Should().HaveCount(6).And.OnlyContain(e => e.Entry.Status == SiloStatus.Active);
        snapshot.Version.Version.Should().Be(12, "each silo wrote twice (Joining, then Active), each write one version");
        await Eventually.HoldsAsync(
            () => silos.All(s => s.Service.ActiveMembers.Select(m => m.Silo).ToHashSet().SetEquals(silos.Select(o => o.Address))),
            Patience, "every silo sees all six Active");
        foreach (var silo in silos)
        {
            var row = await silo.RowAsync();
            row.HostName.Should().Be($"host-{silo.Address.Port}");
            row.Roles.Should().Equal("worker");
            silos[0].ReportedStatusesOf(silo).Should().EndWith(SiloStatus.Active);
        }
    }

    [Fact]
    public async Task HeartbeatsAdvanceTheIAmAliveTime()
    {
        var silo = (await cluster.StartAsync(11_011))[0];
        var first = (await silo.RowAsync()).IAmAliveTime;

        await Eventually.HoldsAsync(
            async () => (await silo.RowAsync()).IAmAliveTime >= first + 2 * Options.IAmAlivePeriod, Patience, "two heartbeats later");
    }

    [Theory]
    [InlineData(ProbeFailure.Refused)]
    [InlineData(ProbeFailure.Hangs)]
    public async Task ASiloThatStopsAnsweringIsDeclaredDeadByTwoVotesAndStopsItself(ProbeFailure failure)
    {
        var silos = await cluster.StartAsync(11_021, 11_022, 11_023);
        var (a, b, victim) = (silos[0], silos[1], silos[2]);
        await Eventually.HoldsAsync(() => silos.All(s => s.Service.ActiveMembers.Count == 3), Patience, "all see three Active");

        cluster.Isolate(victim, failure);
        var detection = await Eventually.HoldsAsync(
            () => a.Sees(victim) == SiloStatus.Dead && b.Sees(victim) == SiloStatus.Dead, Patience, "both survivors see the victim Dead");

        // No earlier than the missed probes allow, and within the bound the options promise.
        detection.Should().BeGreaterThan(Options.ProbePeriod * (Options.NumMissedProbesLimit - 1));
        detection.Should().BeLessThan(Options.DetectionTime + TimeSpan.FromSeconds(1));
        var row = await victim.RowAsync();
        row.Status.Should().Be(SiloStatus.Dead);
        row.Suspicions.Select(s => s.Voter).Should().BeEquivalentTo([a.Address, b.Address], "two distinct voters were needed");

        await victim.DeclaredDead.Task.WaitAsync(Patience);
        victim.Service.IsDeclaredDead.Should().BeTrue();
        a.Service.ActiveMembers.Select(m => m.Silo).Should().BeEquivalentTo([a.Address, b.Address]);
        a.ReportedStatusesOf(victim).Should().EndWith([SiloStatus.Active, SiloStatus.Dead]);
        a.DeclaredDead.Task.IsCompleted.Should().BeFalse();
        b.DeclaredDead.Task.IsCompleted.Should().BeFalse();
    }

    [Fact]
    public async Task OneVoteIsNotEnoughAndExpiredVotesDoNotCount()
    {
        var options = Options with { DeathVoteExpiration = TimeSpan.FromMilliseconds(600) };
        await using var slowCluster = new TestCluster(output, () => table) { Options = options };
        await slowCluster.StartAsync(11_031, 11_032, 11_033);
        var (a, b, target) = (slowCluster.Silos[0], slowCluster.Silos[1], slowCluster.Silos[2]);

        // Only a cannot reach the target: its vote alone must not evict it.
        slowCluster.Cut(a, target);
        await Eventually.HoldsAsync(
            async () => (await target.RowAsync()).Suspicions.Any(s => s.Voter == a.Address), Patience, "a votes against the target");
        await Task.Delay(options.ProbePeriod * 5);
        (await target.RowAsync()).Status.Should().Be(SiloStatus.Active);

        // a's vote expires; then only b cannot reach it: again one fresh vote.
        slowCluster.Heal(a, target);
        await Task.Delay(options.ProbePeriod * 3); // lets a vote already under way land first
        var lastVoteOfA = (await target.RowAsync()).Suspicions.Single(s => s.Voter == a.Address).Time;
        var untilExpired = lastVoteOfA + options.DeathVoteExpiration - DateTimeOffset.UtcNow;
        await Task.Delay(untilExpired > TimeSpan.Zero ? untilExpired : TimeSpan.Zero);
        slowCluster.Cut(b, target);
        await Eventually.HoldsAsync(
            async () => (await target.RowAsync()).Suspicions.Any(s => s.Voter == b.Address), Patience, "b votes against the target");
        await Task.Delay(options.ProbePeriod * 5);
        (await target.RowAsync()).Status.Should().Be(SiloStatus.Active, "a's vote had expired when b voted");

        // Both fresh: the second vote evicts it.
        slowCluster.Cut(a, target);
        await Eventually.HoldsAsync(() => a.Sees(target) == SiloStatus.Dead, Patience, "a sees the target Dead");
        await target.DeclaredDead.Task.WaitAsync(Patience);
    }

    [Fact]
    public async Task InATwoSiloClusterOneVoteIsAMajority()
    {
        var silos = await cluster.StartAsync(11_041, 11_042);

        cluster.Isolate(silos[1]);

        await Eventually.HoldsAsync(() => silos[0].Sees(silos[1]) == SiloStatus.Dead, Patience, "the survivor evicts the other");
        (await silos[1].RowAsync()).Suspicions.Select(s => s.Voter).Should().Equal(silos[0].Address);
        await silos[1].DeclaredDead.Task.WaitAsync(Patience);
    }

    [Fact]
    public async Task ASiloMarkedDeadInTheTableCallsBackAndStopsItsLoops()
    {
        var silo = (await cluster.StartAsync(11_051))[0];
        var snapshot = await table.ReadAllAsync(CancellationToken.None);
        var row = snapshot.Entries.Single();
        (await table.UpdateRowAsync(row.Entry with { Status = SiloStatus.Dead }, row.ETag, snapshot.Version.Next(), CancellationToken.None))
            .Should().BeTrue();

        await silo.DeclaredDead.Task.WaitAsync(Patience);

        silo.Service.IsDeclaredDead.Should().BeTrue();
        await Task.Delay(Options.IAmAlivePeriod * 2); // a heartbeat already under way when it stopped may still land
        var heartbeat = (await silo.RowAsync()).IAmAliveTime;
        await Task.Delay(Options.IAmAlivePeriod * 4);
        (await silo.RowAsync()).IAmAliveTime.Should().Be(heartbeat, "a dead silo's loops have stopped");
        await silo.Service.LeaveAsync(CancellationToken.None); // nothing left to hand off: returns quietly
        (await silo.RowAsync()).Status.Should().Be(SiloStatus.Dead);
    }

    [Fact]
    public async Task GracefulLeaveGoesShuttingDownThenDeadAroundTheDrain()
    {
        SiloStatus? statusDuringDrain = null;
        TestSilo? leaver = null;
        var stay = cluster.Add(11_061);
        leaver = cluster.Add(11_062, drainAsync: async cancellation =>
        {
            statusDuringDrain = (await leaver!.RowAsync()).Status;
            await Task.Delay(Options.TableRefreshPeriod * 4, cancellation); // long enough for the other silo to see it
        });
        await Task.WhenAll(stay.Service.JoinAsync(CancellationToken.None), leaver.Service.JoinAsync(CancellationToken.None));
        await Eventually.HoldsAsync(() => stay.Service.ActiveMembers.Count == 2, Patience, "both Active");

        await leaver.Service.LeaveAsync(CancellationToken.None);

        statusDuringDrain.Should().Be(SiloStatus.ShuttingDown);
        (await leaver.RowAsync()).Status.Should().Be(SiloStatus.Dead);
        (await leaver.RowAsync()).Suspicions.Should().BeEmpty("it left; nobody had to vote");
        await Eventually.HoldsAsync(() => stay.Sees(leaver) == SiloStatus.Dead, Patience, "the other silo sees it Dead");
        stay.ReportedStatusesOf(leaver).Should().EndWith([SiloStatus.Active, SiloStatus.ShuttingDown, SiloStatus.Dead]);
        stay.Service.ActiveMembers.Select(m => m.Silo).Should().Equal(stay.Address);
        leaver.DeclaredDead.Task.IsCompleted.Should().BeFalse("leaving is not being declared dead");
        stay.DeclaredDead.Task.IsCompleted.Should().BeFalse();
    }

    [Fact]
    public async Task ARestartOnTheSameEndpointRetiresTheOldIncarnation()
    {
        var old = (await cluster.StartAsync(11_071))[0];
        var other = (await cluster.StartAsync(11_072))[0];
        var restarted = cluster.Add(11_071, generation: 2);

        await restarted.Service.JoinAsync(CancellationToken.None);

        (await old.RowAsync()).Status.Should().Be(SiloStatus.Dead);
        (await restarted.RowAsync()).Status.Should().Be(SiloStatus.Active);
        await old.DeclaredDead.Task.WaitAsync(Patience);
        await Eventually.HoldsAsync(
            () => other.Service.ActiveMembers.Select(m => m.Silo).ToHashSet().SetEquals([other.Address, restarted.Address]),
            Patience, "the other silo sees the new incarnation instead of the old");
    }

    [Fact]
    public async Task AfterDisposalNoLoopRuns()
    {
        var silos = await cluster.StartAsync(11_081, 11_082);
        await Eventually.HoldsAsync(() => silos[0].ProbesSent > 2, Patience, "probing started");

        await silos[0].Service.DisposeAsync();
        var probes = silos[0].ProbesSent;
        var heartbeat = (await silos[0].RowAsync()).IAmAliveTime;
        await Task.Delay(Options.ProbePeriod * 5);

        silos[0].ProbesSent.Should().Be(probes);
        (await silos[0].RowAsync()).IAmAliveTime.Should().Be(heartbeat);
        (await silos[0].RowAsync()).Status.Should().Be(SiloStatus.Active, "disposal is a crash, not a leave");
        await FluentActions.Awaiting(() => silos[0].Service.JoinAsync(CancellationToken.None)).Should().ThrowAsync<InvalidOperationException>();
    }

    [Theory]
    [InlineData(nameof(MembershipOptions.ProbePeriod))]
    [InlineData(nameof(MembershipOptions.ProbeTimeout))]
    [InlineData(nameof(MembershipOptions.NumMissedProbesLimit))]
    [InlineData(nameof(MembershipOptions.NumVotesForDeathDeclaration))]
    [InlineData(nameof(MembershipOptions.NumProbedSilos))]
    [InlineData(nameof(MembershipOptions.DeathVoteExpiration))]
    public void BadOptionsAreRejectedByName(string option)
    {
        var bad = option switch
        {
            nameof(MembershipOptions.ProbePeriod) => Options with { ProbePeriod = TimeSpan.Zero },
            nameof(MembershipOptions.ProbeTimeout) => Options with { ProbeTimeout = TimeSpan.FromSeconds(-1) },
            nameof(MembershipOptions.NumMissedProbesLimit) => Options with { NumMissedProbesLimit = 0 },
            nameof(MembershipOptions.NumVotesForDeathDeclaration) => Options with { NumVotesForDeathDeclaration = 0 },
            nameof(MembershipOptions.NumProbedSilos) => Options with { NumProbedSilos = -2 },
            _ => Options with { DeathVoteExpiration = Options.ProbePeriod },
        };

        FluentActions.Invoking(bad.Validate).Should().Throw<ArgumentException>().WithMessage($"MembershipOptions.{option} *");
    }

    [Theory]
    [InlineData(7, 3)]
    [InlineData(4, 3)]
    [InlineData(3, 5)]
    [InlineData(1, 3)]
    public void EverySiloIsProbedByAsManyOthersAsEachProbes(int silos, int probed)
    {
        var active = Enumerable.Range(0, silos).Select(i => TestCluster.Address(12_000 + i)).ToList();
        var expected = Math.Min(probed, silos - 1);

        var targets = active.ToDictionary(silo => silo, silo => MembershipService.RingSuccessors(active, silo, probed));

        targets.Values.Should().OnlyContain(list => list.Count == expected && list.Distinct().Count() == expected);
        targets.Should().OnlyContain(pair => !pair.Value.Contains(pair.Key));
        foreach (var silo in active)
            targets.Values.Count(list => list.Contains(silo)).Should().Be(expected);
    }
}
