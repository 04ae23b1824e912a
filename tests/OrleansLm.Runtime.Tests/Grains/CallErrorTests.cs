using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Tests.Grains;

public sealed class CallErrorTests
{
    [Fact]
    public async Task ExceptionsFromGrainsReachTheCallerWithTypeAndMessage()
    {
        await using var silo = await TestSilo.StartAsync();
        var grain = silo.Grains.GetGrain<IErrorGrain>("e");

        await FluentActions.Awaiting(() => grain.Throw("bad shape")).Should().ThrowAsync<ArgumentException>().WithMessage("bad shape");
        await FluentActions.Awaiting(() => grain.ThrowCustom("loss is NaN")).Should().ThrowAsync<RunDivergedException>().WithMessage("loss is NaN");
        // A grain exception is the caller's problem, not the activation's: it keeps serving.
        await FluentActions.Awaiting(() => grain.Throw("again")).Should().ThrowAsync<ArgumentException>().WithMessage("again");
        silo.Runtime.ActivationCount.Should().Be(1);
    }

    [Fact]
    public async Task CallWithoutAResponseTimesOutNamingGrainAndMethod()
    {
        await using var silo = await TestSilo.StartAsync(o => o.CallTimeout = TimeSpan.FromMilliseconds(100));
        var grain = silo.Grains.GetGrain<IErrorGrain>("hung");

        var timeout = await FluentActions.Awaiting(grain.Hang).Should().ThrowAsync<TimeoutException>();

        timeout.WithMessage($"*IErrorGrain.Hang*{GrainId.Create(typeof(IErrorGrain), "hung")}*0.1 s*");
        silo.Probe.Gate.SetResult();
    }

    [Fact]
    public async Task TimeoutCancelsTheTokenTheGrainReceived()
    {
        await using var silo = await TestSilo.StartAsync(o => o.CallTimeout = TimeSpan.FromMilliseconds(100));

        await FluentActions.Awaiting(() => silo.Grains.GetGrain<IErrorGrain>("t").WaitForCancellation(CancellationToken.None))
            .Should().ThrowAsync<TimeoutException>().WithMessage("*IErrorGrain.WaitForCancellation*");

        await Wait.UntilAsync(() => silo.Probe.Events.Contains("grain saw cancellation"), "the grain saw its token cancelled");
    }

    [Fact]
    public async Task CallersCancellationReachesTheGrain()
    {
        await using var silo = await TestSilo.StartAsync();
        using var cancellation = new CancellationTokenSource();

        var call = silo.Grains.GetGrain<IErrorGrain>("c").WaitForCancellation(cancellation.Token);
        await Task.Delay(20);
        call.IsCompleted.Should().BeFalse();
        await cancellation.CancelAsync();

        await FluentActions.Awaiting(() => call).Should().ThrowAsync<OperationCanceledException>();
        await Wait.UntilAsync(() => silo.Probe.Events.Contains("grain saw cancellation"), "the grain saw its token cancelled");
    }

    [Fact]
    public async Task ProxyCreationRejectsMethodsThatDoNotReturnTasks()
    {
        await using var silo = await TestSilo.StartAsync();

        FluentActions.Invoking(() => silo.Grains.GetGrain<IBadGrain>("b")).Should().Throw<ArgumentException>()
            .Which.Message.Should().Contain("IBadGrain.Count returns Int32; grain methods must return Task or Task<T>")
            .And.Contain("IBadGrain.Later returns ValueTask`1")
            .And.NotContain("Fine");
    }

    [Fact]
    public void GrainMadeWithNewHasNoRuntime() =>
        FluentActions.Invoking(() => new CalculatorGrain().GrainId).Should().Throw<InvalidOperationException>().WithMessage("*not created by the grain runtime*");
}
