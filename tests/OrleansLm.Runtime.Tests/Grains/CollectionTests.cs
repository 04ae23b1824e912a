using Microsoft.Extensions.DependencyInjection;
using OrleansLm.Runtime.GrainDirectory;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Tests.Grains;

public sealed class CollectionTests
{
    private static readonly GrainId Idle = GrainId.Create(typeof(ILifecycleGrain), "idle");

    [Fact]
    public async Task ActivationIdleForTheTimeoutIsDeactivatedAndTheNextCallReactivatesIt()
    {
        var clock = new ManualTimeProvider();
        var directory = new InMemoryGrainDirectory();
        await using var silo = await TestSilo.StartAsync(
            o => (o.IdleTimeout, o.CollectionQuantum) = (TimeSpan.FromMinutes(1), TimeSpan.FromHours(1)),
            s => s.AddSingleton<TimeProvider>(clock).AddSingleton<IGrainDirectory>(directory));
        silo.Probe.Gate.SetResult();
        var grain = silo.Grains.GetGrain<ILifecycleGrain>("idle");
        var first = await grain.Ping();
        directory.Count.Should().Be(1);

        clock.Advance(TimeSpan.FromSeconds(59));
        (await silo.Runtime.CollectIdleActivationsAsync()).Should().Be(0);
        var stillFirst = await grain.Ping();
        clock.Advance(TimeSpan.FromSeconds(59));
        (await silo.Runtime.CollectIdleActivationsAsync()).Should().Be(0, "the last call renewed the activation");
        clock.Advance(TimeSpan.FromSeconds(2));
        (await silo.Runtime.CollectIdleActivationsAsync()).Should().Be(1);

        stillFirst.Should().Be(first);
        silo.Probe.Deactivations.Should().Equal((Idle, DeactivationReason.IdleTimeout));
        silo.Runtime.ActivationCount.Should().Be(0);
        directory.Count.Should().Be(0, "a deactivated grain leaves the directory");
        var second = await grain.Ping();
        second.Should().NotBe(first);
        silo.Probe.Constructed.Should().Be(2);
    }

    [Fact]
    public async Task DelayDeactivationKeepsAnIdleActivationForThePeriodAsked()
    {
        var clock = new ManualTimeProvider();
        await using var silo = await TestSilo.StartAsync(
            o => (o.IdleTimeout, o.CollectionQuantum) = (TimeSpan.FromMinutes(1), TimeSpan.FromHours(1)),
            s => s.AddSingleton<TimeProvider>(clock));
        silo.Probe.Gate.SetResult();
        await silo.Grains.GetGrain<ILifecycleGrain>("idle").PingAndDelayDeactivation(TimeSpan.FromMinutes(5));

        clock.Advance(TimeSpan.FromMinutes(4));
        (await silo.Runtime.CollectIdleActivationsAsync()).Should().Be(0, "idle for longer than the timeout, but kept for five minutes");
        clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        (await silo.Runtime.CollectIdleActivationsAsync()).Should().Be(1);
    }

    [Fact]
    public async Task CollectorLoopDeactivatesIdleActivationsOnItsOwn()
    {
        await using var silo = await TestSilo.StartAsync(o => (o.IdleTimeout, o.CollectionQuantum) = (TimeSpan.FromMilliseconds(30), TimeSpan.FromMilliseconds(10)));
        silo.Probe.Gate.SetResult();

        await silo.Grains.GetGrain<ILifecycleGrain>("idle").Ping();

        await Wait.UntilAsync(() => !silo.Probe.Deactivations.IsEmpty, "the collector deactivated the grain");
        silo.Probe.Deactivations.Should().Equal((Idle, DeactivationReason.IdleTimeout));
    }

    [Fact]
    public async Task DeactivateOnIdleDeactivatesAfterTheCurrentCall()
    {
        await using var silo = await TestSilo.StartAsync();
        silo.Probe.Gate.SetResult();
        var grain = silo.Grains.GetGrain<ILifecycleGrain>("idle");

        var first = await grain.PingThenDeactivate();
        await Wait.UntilAsync(() => !silo.Probe.Deactivations.IsEmpty, "OnDeactivateAsync ran");
        var second = await grain.Ping();

        silo.Probe.Deactivations.Should().Equal((Idle, DeactivationReason.ApplicationRequested));
        second.Should().NotBe(first);
        silo.Probe.Events.Should().ContainInOrder("call", "deactivate ApplicationRequested", "construct idle", "call");
    }

    [Fact]
    public async Task CallArrivingDuringDeactivationWaitsAndGoesToAFreshActivation()
    {
        await using var silo = await TestSilo.StartAsync();
        var grain = silo.Grains.GetGrain<ILifecycleGrain>("idle");
        var first = await grain.PingThenDeactivate();
        await Wait.UntilAsync(() => silo.Probe.Events.Contains("deactivate ApplicationRequested"), "OnDeactivateAsync started");

        var racing = Enumerable.Range(0, 10).Select(_ => Task.Run(grain.Ping)).ToArray();
        await Task.Delay(50);
        racing.Should().OnlyContain(t => !t.IsCompleted, "OnDeactivateAsync still holds the old activation");
        silo.Probe.Gate.SetResult();
        var ids = await Task.WhenAll(racing).WaitAsync(Wait.Bound);

        ids.Distinct().Should().ContainSingle().Which.Should().NotBe(first);
        silo.Probe.Constructed.Should().Be(2);
        silo.Probe.Events.Where(e => e != "call").Should().Equal(
            "construct idle", "activate begins", "activate ends", "deactivate ApplicationRequested",
            "construct idle", "activate begins", "activate ends");
    }

    [Fact]
    public async Task IdleCollectionRacingCallsLosesNoCall()
    {
        var clock = new ManualTimeProvider();
        await using var silo = await TestSilo.StartAsync(
            o => (o.IdleTimeout, o.CollectionQuantum) = (TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)),
            s => s.AddSingleton<TimeProvider>(clock));
        silo.Probe.Gate.SetResult();
        var grain = silo.Grains.GetGrain<ILifecycleGrain>("idle");

        var calls = new List<Task<Guid>>();
        for (var round = 0; round < 20; round++)
        {
            calls.Add(Task.FromResult(await grain.Ping()));
            clock.Advance(TimeSpan.FromSeconds(2));
            // The call and the collection race: either the call renews the activation or it waits for a fresh one.
            calls.Add(Task.Run(grain.Ping));
            await silo.Runtime.CollectIdleActivationsAsync();
        }
        var ids = await Task.WhenAll(calls).WaitAsync(Wait.Bound);

        ids.Should().HaveCount(40);
        silo.Probe.Constructed.Should().Be(silo.Probe.Deactivations.Count + silo.Runtime.ActivationCount);
        silo.Probe.Constructed.Should().BeGreaterThan(1, "some of the 20 collections find the grain idle");
    }
}
