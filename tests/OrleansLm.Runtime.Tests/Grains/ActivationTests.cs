using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Tests.Grains;

public sealed class ActivationTests
{
    [Fact]
    public async Task FirstCallActivatesAndOnActivateAsyncCompletesBeforeTheCall()
    {
        await using var silo = await TestSilo.StartAsync();
        silo.Runtime.ActivationCount.Should().Be(0);

        await silo.Grains.GetGrain<ILifecycleGrain>("a").Ping();

        silo.Probe.Events.Should().Equal("construct a", "activate begins", "activate ends", "call");
        silo.Runtime.ActivationCount.Should().Be(1);
    }

    [Fact]
    public async Task OneActivationPerKeyUnderConcurrentFirstCalls()
    {
        await using var silo = await TestSilo.StartAsync();
        var grain = silo.Grains.GetGrain<ILifecycleGrain>("contended");

        var ids = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Task.Run(grain.Ping)));

        silo.Probe.Constructed.Should().Be(1);
        ids.Distinct().Should().ContainSingle();
        silo.Probe.Events.Count(e => e == "call").Should().Be(100);
        silo.Probe.Events.Should().StartWith(["construct contended", "activate begins", "activate ends"]);
    }

    [Fact]
    public async Task DistinctKeysGetDistinctActivations()
    {
        await using var silo = await TestSilo.StartAsync();

        var a = await silo.Grains.GetGrain<ILifecycleGrain>("a").Ping();
        var b = await silo.Grains.GetGrain<ILifecycleGrain>("b").Ping();
        var again = await silo.Grains.GetGrain<ILifecycleGrain>("a").Ping();

        a.Should().NotBe(b);
        again.Should().Be(a);
        silo.Probe.Constructed.Should().Be(2);
    }

    [Fact]
    public async Task FailedActivationFailsTheCallAndTheNextCallActivatesAfresh()
    {
        await using var silo = await TestSilo.StartAsync();
        var grain = silo.Grains.GetGrain<IFlakyActivationGrain>(7);

        await FluentActions.Awaiting(grain.Key).Should().ThrowAsync<InvalidOperationException>().WithMessage("cannot activate yet");
        silo.Runtime.ActivationCount.Should().Be(0);

        (await grain.Key()).Should().Be(7);
        silo.Probe.Events.Count(e => e == "attempt").Should().Be(2);
    }

    [Fact]
    public async Task GrainsSeeTheirKeysOfEachKind()
    {
        await using var silo = await TestSilo.StartAsync();

        (await silo.Grains.GetGrain<IKeyedGrain>("run-7+x", -3).Key()).Should().Be(("run-7+x", -3L));
        (await silo.Grains.GetGrain<ICalculatorGrain>(long.MinValue).Key()).Should().Be(long.MinValue);
        (await silo.Grains.GetGrain<ICalculatorGrain>(42).Key()).Should().Be(42);
    }

    [Fact]
    public async Task ReferencesToTheSameGrainAreEqualAndNameIt()
    {
        await using var silo = await TestSilo.StartAsync();

        var first = silo.Grains.GetGrain<ILifecycleGrain>("x");
        var second = silo.Grains.GetGrain<ILifecycleGrain>("x");

        first.Should().Be(second);
        first.Should().NotBe(silo.Grains.GetGrain<ILifecycleGrain>("y"));
        first.GetGrainId().Should().Be(GrainId.Create(typeof(ILifecycleGrain), "x"));
        silo.Grains.GetGrain<ILifecycleGrain>(first.GetGrainId()).Should().Be(first);
        FluentActions.Invoking(() => silo.Grains.GetGrain<IErrorGrain>(first.GetGrainId()))
            .Should().Throw<ArgumentException>().WithMessage("*does not name a*IErrorGrain*");
    }

    [Fact]
    public async Task GrainWithoutAnImplementationFailsNamingItsInterface()
    {
        await using var silo = await TestSilo.StartAsync();
        var grain = silo.Grains.GetGrain<IUnimplementedGrain>("nobody");

        await FluentActions.Awaiting(grain.Anything).Should().ThrowAsync<InvalidOperationException>()
            .WithMessage($"no grain class implements {typeof(IUnimplementedGrain).FullName}*");
    }

    [Fact]
    public async Task CallsBeforeStartOrAfterStopAreRefused()
    {
        await using var silo = await TestSilo.StartAsync();
        await silo.Grains.GetGrain<ILifecycleGrain>("a").Ping();
        silo.Probe.Gate.SetResult();

        await silo.Runtime.StopAsync(CancellationToken.None);

        await FluentActions.Awaiting(() => silo.Grains.GetGrain<ILifecycleGrain>("a").Ping())
            .Should().ThrowAsync<SiloUnavailableException>().WithMessage("*stopping*");
    }

    [Fact]
    public async Task OutOfRangeOptionIsRefusedByName() =>
        await FluentActions.Awaiting(() => TestSilo.StartAsync(o => o.IdleTimeout = TimeSpan.Zero))
            .Should().ThrowAsync<ArgumentOutOfRangeException>().WithMessage("GrainRuntime:IdleTimeout must be positive*");

    [Fact]
    public async Task StopDeactivatesEveryActivationWithOnDeactivateAsync()
    {
        await using var silo = await TestSilo.StartAsync();
        foreach (var key in new[] { "a", "b", "c" }) await silo.Grains.GetGrain<ILifecycleGrain>(key).Ping();
        silo.Probe.Gate.SetResult();

        await silo.Runtime.StopAsync(CancellationToken.None);

        silo.Probe.Deactivations.Should().BeEquivalentTo(new[] { "a", "b", "c" }.Select(k =>
            (GrainId.Create(typeof(ILifecycleGrain), k), DeactivationReason.ShuttingDown)));
        silo.Runtime.ActivationCount.Should().Be(0);
    }
}

public interface IUnimplementedGrain : IGrainWithStringKey
{
    Task Anything();
}
