using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Tests.Grains;

public sealed class FilterTests
{
    [Fact]
    public async Task FiltersRunInRegistrationOrderOutgoingOutsideIncoming()
    {
        var log = new ConcurrentQueue<string>();
        await using var silo = await TestSilo.StartAsync(register: s => s
            .AddSingleton<IOutgoingGrainCallFilter>(new RecordingFilter("out1", log))
            .AddSingleton<IOutgoingGrainCallFilter>(new RecordingFilter("out2", log))
            .AddSingleton<IIncomingGrainCallFilter>(new RecordingFilter("in1", log))
            .AddSingleton<IIncomingGrainCallFilter>(new RecordingFilter("in2", log)));

        (await silo.Grains.GetGrain<ICalculatorGrain>(1).Add(2, 3)).Should().Be(5);

        log.Should().Equal(
            "out1 > Add(2,3)", "out2 > Add(2,3)", "in1 > Add(2,3)", "in2 > Add(2,3)",
            "in2 < 5", "in1 < 5", "out2 < 5", "out1 < 5");
    }

    [Fact]
    public async Task FiltersCanAlterArgumentsAndResults()
    {
        await using var silo = await TestSilo.StartAsync(register: s => s
            .AddSingleton<IOutgoingGrainCallFilter>(new DoubleFirstArgument())
            .AddSingleton<IIncomingGrainCallFilter>(new ScaleIntResult(10)));

        // (2 * 2 + 3) * 10
        (await silo.Grains.GetGrain<ICalculatorGrain>(1).Add(2, 3)).Should().Be(70);
    }

    [Fact]
    public async Task FiltersObserveTheGrainAndTheExceptionAndMayReplaceItWithAResult()
    {
        var seen = new ConcurrentQueue<string>();
        await using var silo = await TestSilo.StartAsync(register: s => s
            .AddSingleton<IOutgoingGrainCallFilter>(new FallbackOnError(-1, seen))
            .AddSingleton<IIncomingGrainCallFilter>(new GrainObserver(seen)));

        (await silo.Grains.GetGrain<ICalculatorGrain>(4).Fail("no")).Should().Be(-1);

        seen.Should().Equal($"{nameof(CalculatorGrain)} {GrainId.Create(typeof(ICalculatorGrain), 4)} threw no", "outgoing caught InvalidOperationException: no");
    }

    [Fact]
    public async Task OutgoingFiltersObserveTimeouts()
    {
        var seen = new ConcurrentQueue<string>();
        await using var silo = await TestSilo.StartAsync(o => o.CallTimeout = TimeSpan.FromMilliseconds(50), s => s
            .AddSingleton<IOutgoingGrainCallFilter>(new FallbackOnError(-1, seen)));

        await FluentActions.Awaiting(silo.Grains.GetGrain<IErrorGrain>("hung").Hang).Should().ThrowAsync<TimeoutException>();

        seen.Should().Equal("outgoing saw TimeoutException");
    }

    private sealed class RecordingFilter(string name, ConcurrentQueue<string> log) : IIncomingGrainCallFilter, IOutgoingGrainCallFilter
    {
        public Task Invoke(IIncomingGrainCallContext context) => Record(context);

        public Task Invoke(IOutgoingGrainCallContext context) => Record(context);

        private async Task Record(IGrainCallContext context)
        {
            log.Enqueue($"{name} > {context.InterfaceMethod.Name}({string.Join(",", context.Arguments)})");
            await context.Invoke();
            log.Enqueue($"{name} < {context.Result}");
        }
    }

    private sealed class DoubleFirstArgument : IOutgoingGrainCallFilter
    {
        public Task Invoke(IOutgoingGrainCallContext context)
        {
            context.Arguments[0] = (int)context.Arguments[0]! * 2;
            return context.Invoke();
        }
    }

    private sealed class ScaleIntResult(int factor) : IIncomingGrainCallFilter
    {
        public async Task Invoke(IIncomingGrainCallContext context)
        {
            await context.Invoke();
            context.Result = (int)context.Result! * factor;
        }
    }

    private sealed class GrainObserver(ConcurrentQueue<string> seen) : IIncomingGrainCallFilter
    {
        public async Task Invoke(IIncomingGrainCallContext context)
        {
            try
            {
                await context.Invoke();
            }
            finally
            {
                seen.Enqueue($"{context.Grain.GetType().Name} {context.Grain.GrainId} threw {context.Exception?.Message}");
            }
        }
    }

    private sealed class FallbackOnError(int fallback, ConcurrentQueue<string> seen) : IOutgoingGrainCallFilter
    {
        public async Task Invoke(IOutgoingGrainCallContext context)
        {
            try
            {
                await context.Invoke();
            }
            catch (InvalidOperationException e) when (ReferenceEquals(e, context.Exception))
            {
                seen.Enqueue($"outgoing caught {e.GetType().Name}: {e.Message}");
                context.Result = fallback;
            }
            catch (Exception e) when (ReferenceEquals(e, context.Exception))
            {
                seen.Enqueue($"outgoing saw {e.GetType().Name}");
                throw;
            }
        }
    }
}
