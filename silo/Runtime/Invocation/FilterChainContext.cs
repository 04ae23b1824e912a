using System.Reflection;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Invocation;

/// <summary>
/// A call passing through a chain of filters: each <see cref="Invoke"/> runs the next filter, and the last one runs
/// <see cref="InvokeTargetAsync"/> (the grain method, or the route to it), recording its result or exception.
/// </summary>
internal abstract class FilterChainContext<TFilter>(GrainCall call, TFilter[] filters, Func<TFilter, FilterChainContext<TFilter>, Task> runFilter)
    : IGrainCallContext
{
    private int next;

    protected GrainCall Call => call;

    public GrainId TargetId => call.TargetId;

    public MethodInfo InterfaceMethod => call.Method.InterfaceMethod;

    public object?[] Arguments => call.Arguments;

    public object? Result { get; set; }

    public Exception? Exception { get; private set; }

    public CancellationToken CancellationToken => call.CancellationToken;

    public Task Invoke() => next < filters.Length ? runFilter(filters[next++], this) : InvokeTargetRecordingAsync();

    /// <summary>The end of the chain; returns the method's result.</summary>
    protected abstract Task<object?> InvokeTargetAsync();

    private async Task InvokeTargetRecordingAsync()
    {
        try
        {
            // No ConfigureAwait(false): an incoming chain must stay on its activation's turn scheduler.
            Result = await InvokeTargetAsync();
        }
        catch (Exception e)
        {
            Exception = e;
            throw;
        }
    }
}
