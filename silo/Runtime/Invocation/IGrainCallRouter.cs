namespace OrleansLm.Runtime.Invocation;

/// <summary>
/// Delivers a call to its target activation: a local one, or, through <see cref="IRemoteGrainCallSender"/>, one
/// the grain directory or placement puts on another silo. Completes with the method's boxed result (null for Task)
/// or faults with the grain's exception.
/// </summary>
public interface IGrainCallRouter
{
    Task<object?> InvokeAsync(GrainCall call);
}

/// <summary>
/// Sends a call to the activation on another silo and returns its result: the remote path the cluster layer
/// implements over the silo transport (encode with GrainCallCodec, send, decode the response). Failures to reach
/// the silo surface as <see cref="SiloUnavailableException"/>, which makes the router drop the silo's directory entry.
/// </summary>
public interface IRemoteGrainCallSender
{
    Task<object?> SendAsync(SiloAddress silo, GrainCall call);
}

/// <summary>A silo on its own: no other silo to send to, so a call routed elsewhere is a configuration error.</summary>
public sealed class NoRemoteSilos : IRemoteGrainCallSender
{
    public static NoRemoteSilos Instance { get; } = new();

    public Task<object?> SendAsync(SiloAddress silo, GrainCall call) =>
        Task.FromException<object?>(new SiloUnavailableException(silo, $"this silo has no remote path (call {call})"));
}
