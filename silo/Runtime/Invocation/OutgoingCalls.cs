using System.Reflection;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Invocation;

/// <summary>
/// The caller's side of a grain call: builds the <see cref="GrainCall"/>, runs the outgoing filters around routing,
/// and bounds routing by the call timeout, failing with a <see cref="TimeoutException"/> that names the grain and the
/// method (inside the filters, so they observe it). For a method with a CancellationToken parameter the grain
/// receives a token cancelled by the caller's token or at the timeout, so a cooperative grain stops when its caller
/// has given up.
/// </summary>
internal sealed class OutgoingCalls(IGrainCallRouter router, IOutgoingGrainCallFilter[] filters, TimeSpan timeout, TimeProvider time)
{
    /// <summary>Returns the Task or Task&lt;T&gt; the interface method declares.</summary>
    public Task Invoke(GrainId target, GrainMethod method, object?[] args) =>
        method.ToCallerTask(Send(method.CancellationTokenIndex >= 0 ? CancellableCall(target, method, args) : new GrainCall(target, method, args, default, timeout)));

    /// <summary>A call whose grain receives a token cancelled by the caller's token or at the timeout.</summary>
    private GrainCall CancellableCall(GrainId target, GrainMethod method, object?[] args)
    {
        var callerToken = (CancellationToken)args[method.CancellationTokenIndex]!;
        var deadline = new CallDeadline(callerToken, timeout, time);
        args[method.CancellationTokenIndex] = deadline.Token;
        return new GrainCall(target, method, args, deadline.Token, timeout) { CallerCancellation = callerToken, Deadline = deadline };
    }

    private Task<object?> Send(GrainCall call) => filters.Length == 0 ? Route(call) : new OutgoingCallContext(call, filters, this).RunAsync();

    private Task<object?> Route(GrainCall call)
    {
        var task = router.InvokeAsync(call);
        if (call.Deadline is { } deadline)
        {
            // Disposed when the call itself is over, not when the caller stops waiting: a caller that cancels or times
            // out returns before the grain has seen its token fire, and disposing then could unlink the token first.
            task.ContinueWith(static (_, d) => ((CallDeadline)d!).Dispose(), deadline, CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        return task.IsCompleted ? task : AwaitRoutedAsync(call, task);
    }

    private async Task<object?> AwaitRoutedAsync(GrainCall call, Task<object?> task)
    {
        try
        {
            return await task.WaitAsync(timeout, time, call.CancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!call.CallerCancellation.IsCancellationRequested
                                  && ((e is TimeoutException && !task.IsCompleted) || (e is OperationCanceledException && call.CancellationToken.IsCancellationRequested)))
        {
            // Our own wait ran out, or the call's token fired without the caller cancelling: the deadline passed.
            throw new TimeoutException($"call {call.Method} to grain {call.TargetId} timed out after {timeout.TotalSeconds:0.###} s");
        }
    }

    private sealed class OutgoingCallContext(GrainCall call, IOutgoingGrainCallFilter[] filters, OutgoingCalls calls)
        : FilterChainContext<IOutgoingGrainCallFilter>(call, filters, (filter, context) => filter.Invoke((OutgoingCallContext)context)),
          IOutgoingGrainCallContext
    {
        public async Task<object?> RunAsync()
        {
            await Invoke().ConfigureAwait(false);
            return Result;
        }

        protected override Task<object?> InvokeTargetAsync() => calls.Route(Call);
    }

    /// <summary>The token a cancellable call's grain receives: the caller's token linked with a timer at the call timeout.</summary>
    internal sealed class CallDeadline : IDisposable
    {
        private readonly CancellationTokenSource timer;
        private readonly CancellationTokenSource? linked;

        public CallDeadline(CancellationToken callerToken, TimeSpan timeout, TimeProvider time)
        {
            timer = new CancellationTokenSource(timeout, time);
            linked = callerToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(callerToken, timer.Token) : null;
            Token = linked?.Token ?? timer.Token;
        }

        public CancellationToken Token { get; }

        public void Dispose()
        {
            linked?.Dispose();
            timer.Dispose();
        }
    }
}
