using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Invocation;

namespace OrleansLm.Runtime.Benchmarks;

public interface ICalculatorGrain : IGrainWithIntegerKey
{
    Task<int> Add(int a, int b);
}

public sealed class CalculatorGrain : Grain, ICalculatorGrain
{
    public Task<int> Add(int a, int b) => Task.FromResult(a + b);
}

public interface ICodecBench : IGrainWithStringKey
{
    Task Scale(float[] values);
}

/// <summary>The proxy a source generator would emit for <see cref="ICalculatorGrain"/>: one method per interface method, no reflection.</summary>
internal sealed class HandWrittenCalculatorProxy(OutgoingCalls calls, GrainId grainId, GrainMethod add) : ICalculatorGrain
{
    public Task<int> Add(int a, int b) => (Task<int>)calls.Invoke(grainId, add, [a, b]);
}

/// <summary>Runs each call on one grain object right away: routing with no runtime behind it.</summary>
internal sealed class InlineRouter(object grain) : IGrainCallRouter
{
    public async Task<object?> InvokeAsync(GrainCall call)
    {
        var task = call.Method.Invoke(grain, call.Arguments);
        await task;
        return call.Method.GetResult(task);
    }
}
