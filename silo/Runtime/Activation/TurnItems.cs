using System.Reflection;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Invocation;

namespace OrleansLm.Runtime.Activation;

/// <summary>Work that runs as a turn of an activation: a call or a timer tick.</summary>
internal abstract class TurnItem
{
    /// <summary>Whether running it counts as use of the activation (calls do; timer ticks do not keep a grain alive).</summary>
    public abstract bool KeepsAlive { get; }

    /// <summary>Runs inside the turn, on the activation's scheduler; records its outcome and never throws.</summary>
    public abstract Task RunAsync(ActivationData activation);

    /// <summary>Hands the recorded outcome out, once the activation's bookkeeping for the turn is done.</summary>
    public virtual void Publish()
    {
    }
}

/// <summary>A call waiting for or running in an activation; <see cref="Completion"/> is what the router hands the caller.</summary>
internal sealed class CallTurn(GrainCall call) : TurnItem
{
    private readonly TaskCompletionSource<object?> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private object? result;
    private Exception? exception;

    public GrainCall Call => call;

    public Task<object?> Completion => completion.Task;

    public override bool KeepsAlive => true;

    public override async Task RunAsync(ActivationData activation)
    {
        try
        {
            var grain = activation.Instance!;
            var filters = activation.Catalog.IncomingFilters;
            if (filters.Length == 0)
            {
                var task = call.Method.Invoke(grain, call.Arguments);
                await task;
                result = call.Method.GetResult(task);
            }
            else
            {
                var context = new IncomingCallContext(call, grain, filters);
                await context.Invoke();
                result = context.Result;
            }
        }
        catch (Exception e)
        {
            exception = e;
        }
    }

    public override void Publish()
    {
        if (exception is null) completion.TrySetResult(result);
        else completion.TrySetException(exception);
    }

    public void Succeed(object? value) => completion.TrySetResult(value);

    public void Fail(Exception e) => completion.TrySetException(e);

    private sealed class IncomingCallContext(GrainCall call, Grain grain, IIncomingGrainCallFilter[] filters)
        : FilterChainContext<IIncomingGrainCallFilter>(call, filters, (filter, context) => filter.Invoke((IncomingCallContext)context)),
          IIncomingGrainCallContext
    {
        public Grain Grain => grain;

        protected override async Task<object?> InvokeTargetAsync()
        {
            var task = Call.Method.Invoke(grain, Arguments);
            await task;
            return Call.Method.GetResult(task);
        }
    }
}

/// <summary>One tick of a grain timer.</summary>
internal sealed class TimerTick(GrainTimer timer) : TurnItem
{
    public override bool KeepsAlive => false;

    public override Task RunAsync(ActivationData activation) => timer.TickAsync();
}
