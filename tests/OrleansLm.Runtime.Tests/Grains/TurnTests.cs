namespace OrleansLm.Runtime.Tests.Grains;

public sealed class TurnTests
{
    [Fact]
    public async Task NonReentrantCallsNeverOverlapEvenAcrossAwaits()
    {
        await using var silo = await TestSilo.StartAsync();
        var grain = silo.Grains.GetGrain<ITurnGrain>(1);

        await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => grain.Work(2))));

        silo.Probe.MaxInFlight.Should().Be(1);
    }

    [Fact]
    public async Task ReentrantCallsInterleaveButNeverRunOnTwoThreadsAtOnce()
    {
        await using var silo = await TestSilo.StartAsync();
        var grain = silo.Grains.GetGrain<IReentrantTurnGrain>(1);
        const int calls = 8;

        var running = Enumerable.Range(0, calls).Select(_ => Task.Run(grain.WaitAtGate)).ToArray();
        await Wait.UntilAsync(() => silo.Probe.InFlight == calls, $"all {calls} calls are inside the grain at once");
        silo.Probe.Gate.SetResult();
        await Task.WhenAll(running).WaitAsync(Wait.Bound);

        silo.Probe.MaxInFlight.Should().Be(calls);
        silo.Probe.MaxExecuting.Should().Be(1, "an activation runs one piece of code at a time");
    }

    [Fact]
    public async Task NonReentrantCallWaitingAtAGateHoldsTheActivation()
    {
        await using var silo = await TestSilo.StartAsync();
        var grain = silo.Grains.GetGrain<ITurnGrain>(2);

        var first = grain.WaitAtGate();
        await Wait.UntilAsync(() => silo.Probe.InFlight == 1, "the first call is inside");
        var second = grain.Work(0);
        await Task.Delay(50);
        second.IsCompleted.Should().BeFalse("the first call still holds the activation");
        silo.Probe.Gate.SetResult();
        await Task.WhenAll(first, second).WaitAsync(Wait.Bound);

        silo.Probe.MaxInFlight.Should().Be(1);
    }

    [Fact]
    public async Task TimerTicksAreTurnsThatNeverOverlapCalls()
    {
        await using var silo = await TestSilo.StartAsync();
        var grain = silo.Grains.GetGrain<ITimerGrain>("t");

        await grain.StartTimer(TimeSpan.FromMilliseconds(2));
        var calls = Task.WhenAll(Enumerable.Range(0, 40).Select(_ => Task.Run(() => grain.Work(1))));
        await Wait.UntilAsync(() => silo.Probe.Ticks >= 5, "the timer ticked five times");
        await calls.WaitAsync(Wait.Bound);

        silo.Probe.MaxInFlight.Should().Be(1);
        (await grain.LastTimerState()).Should().Be("timer state");
    }

    [Fact]
    public async Task DisposedTimerStopsTicking()
    {
        await using var silo = await TestSilo.StartAsync();
        var grain = silo.Grains.GetGrain<ITimerGrain>("t");
        await grain.StartTimer(TimeSpan.FromMilliseconds(1));
        await Wait.UntilAsync(() => silo.Probe.Ticks >= 3, "the timer ticked");

        await grain.StopTimer();
        var ticks = silo.Probe.Ticks;
        await Task.Delay(100);

        silo.Probe.Ticks.Should().Be(ticks);
    }
}
