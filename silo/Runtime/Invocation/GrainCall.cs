using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Invocation;

/// <summary>
/// One call on its way to an activation: made by a grain reference on this silo, or decoded from another silo's
/// request. The argument at <see cref="GrainMethod.CancellationTokenIndex"/> is <see cref="CancellationToken"/>.
/// </summary>
public sealed class GrainCall(GrainId targetId, GrainMethod method, object?[] arguments, CancellationToken cancellationToken, TimeSpan timeout, int forwardCount = 0)
{
    /// <summary>How often a call may be forwarded (it reached a silo that lost the grain's directory registration) before it fails.</summary>
    public const int MaxForwardCount = 2;

    public GrainId TargetId { get; } = targetId;

    public GrainMethod Method { get; } = method;

    public object?[] Arguments { get; } = arguments;

    /// <summary>Cancelled when the caller cancels or the call times out; what the grain's CancellationToken parameter receives.</summary>
    public CancellationToken CancellationToken { get; } = cancellationToken;

    /// <summary>The caller's time limit for the whole call; a remote sender passes it to the transport.</summary>
    public TimeSpan Timeout { get; } = timeout;

    /// <summary>How many times the call was already forwarded between silos.</summary>
    public int ForwardCount { get; } = forwardCount;

    /// <summary>The caller's own token, apart from the timeout (for telling a cancelled call from a timed-out one on the caller's side).</summary>
    internal CancellationToken CallerCancellation { get; init; }

    /// <summary>Owns <see cref="CancellationToken"/> for a call made on this silo with a CancellationToken parameter.</summary>
    internal OutgoingCalls.CallDeadline? Deadline { get; init; }

    /// <summary>The same call, sent on to another silo.</summary>
    public GrainCall Forwarded() =>
        ForwardCount < MaxForwardCount
            ? new(TargetId, Method, Arguments, CancellationToken, Timeout, ForwardCount + 1) { CallerCancellation = CallerCancellation }
            : throw new InvalidOperationException($"call {Method} to {TargetId} was forwarded {ForwardCount} times without reaching an activation");

    public override string ToString() => $"{Method} on {TargetId}";
}
