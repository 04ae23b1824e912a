using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Membership;
using OrleansLm.Runtime.Metrics;
using OrleansLm.Runtime.Tests.Grains;
using OrleansLm.Runtime.Tests.Membership;
using OrleansLm.Testing;
using Xunit.Abstractions;
using GrainSilo = OrleansLm.Runtime.Tests.Grains.TestSilo;

namespace OrleansLm.Runtime.Tests.Metrics;

public interface IMeteredGrain : IGrainWithStringKey
{
    Task<int> Answer();

    Task Fail();
}

public sealed class MeteredGrain : Grain, IMeteredGrain
{
    public Task<int> Answer() => Task.FromResult(42);

    public Task Fail() => throw new InvalidOperationException("metered failure");
}

public sealed class RuntimeMetricsTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task GrainCallsAreCountedByInterfaceAndOutcomeAndTimedAndActivationsObserved()
    {
        using var recorder = new MeasurementRecorder(RuntimeMeters.Name);
        await using var silo = await GrainSilo.StartAsync();
        var grains = new[] { "a", "b" }.Select(key => silo.Grains.GetGrain<IMeteredGrain>(key)).ToArray();

        foreach (var grain in grains.Concat(grains).Concat(grains)) (await grain.Answer()).Should().Be(42);
        await FluentActions.Awaiting(() => grains[0].Fail()).Should().ThrowAsync<InvalidOperationException>();
        recorder.Observe();

        var calls = recorder.Of("olm.grain.calls").Where(m => m.Tag("grain") == nameof(IMeteredGrain)).ToList();
        calls.Where(m => m.Tag("outcome") == "ok").Sum(m => m.Value).Should().Be(6);
        calls.Where(m => m.Tag("outcome") == "error").Sum(m => m.Value).Should().Be(1);
        recorder.Of("olm.grain.call.duration").Where(m => m.Tag("grain") == nameof(IMeteredGrain))
            .Should().HaveCount(7).And.OnlyContain(m => m.Value > 0 && m.Value < Patience.TotalSeconds);
        recorder.Of("olm.grain.activations").Where(m => m.Tag("grain") == nameof(IMeteredGrain))
            .Select(m => m.Value).Should().Equal([2.0], "two keys, one activation each");
    }

    [Fact]
    public async Task MembershipCountsSilosByStatusAndOnlyFailedSilosAsDeclaredDead()
    {
        var table = new InMemoryMembershipTable();
        await using var cluster = new TestCluster(output, () => table);
        var silos = await cluster.StartAsync(11_301, 11_302, 11_303, 11_304);
        var (observer, victim, leaver) = (silos[0], silos[2], silos[3]);
        using var metrics = new MembershipMetrics(observer.Service);
        using var recorder = new MeasurementRecorder(instrument => instrument.Meter == metrics.Meter);
        await Eventually.HoldsAsync(() => observer.Service.ActiveMembers.Count == 4, Patience, "all four Active");

        await leaver.Service.LeaveAsync(CancellationToken.None);
        cluster.Isolate(victim);
        await Eventually.HoldsAsync(() => observer.Sees(victim) == SiloStatus.Dead && observer.Sees(leaver) == SiloStatus.Dead, Patience,
            "the observer sees the victim declared dead and the leaver gone");
        recorder.Observe();

        recorder.Of("olm.membership.declared_dead").Sum(m => m.Value).Should().Be(1, "a graceful leave is not a death");
        var silosByStatus = recorder.Of("olm.membership.silos").ToDictionary(m => m.Tag("status"), m => m.Value);
        silosByStatus.Should().Equal(new Dictionary<string, double> { ["joining"] = 0, ["active"] = 2, ["shutting_down"] = 0, ["dead"] = 2 });
    }
}
