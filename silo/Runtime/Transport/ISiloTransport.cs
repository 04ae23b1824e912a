namespace OrleansLm.Runtime.Transport;

/// <summary>What a silo does with a request another silo sent it; the result is the response body.</summary>
public interface IRequestHandler
{
    ValueTask<ReadOnlyMemory<byte>> HandleAsync(SiloAddress caller, ReadOnlyMemory<byte> request, CancellationToken cancellation);
}

/// <summary>
/// Request/response messaging between silos, payload-agnostic: the runtime encodes grain calls into the bytes.
/// Failures surface as <see cref="SiloUnavailableException"/> (dead, unreachable, wrong incarnation, refused
/// secret), <see cref="TimeoutException"/> (no response in time), <see cref="OperationCanceledException"/>, or
/// <see cref="RemoteHandlerException"/> (the remote handler threw).
/// </summary>
public interface ISiloTransport : IAsyncDisposable
{
    /// <summary>This silo's address; valid after <see cref="StartAsync"/> (the port may have been 0 = any).</summary>
    SiloAddress LocalAddress { get; }

    /// <summary>Starts listening; from then on requests reach <paramref name="handler"/>.</summary>
    Task StartAsync(IRequestHandler handler, CancellationToken cancellation);

    /// <summary>Sends one request and waits for its response; cancelling also cancels it at the receiver.</summary>
    Task<ReadOnlyMemory<byte>> SendAsync(SiloAddress target, ReadOnlyMemory<byte> request, TimeSpan timeout, CancellationToken cancellation);

    /// <summary>A transport-level round trip, answered by the remote transport itself: failure detection's probe.</summary>
    Task PingAsync(SiloAddress target, TimeSpan timeout, CancellationToken cancellation);

    /// <summary>Fails every pending and future call to <paramref name="silo"/> at once (it was declared dead).</summary>
    void MarkDead(SiloAddress silo);

    /// <summary>The bytes this transport has sent, requests and responses.</summary>
    TransportTraffic Traffic { get; }
}

/// <summary>The remote silo's handler threw; <see cref="RemoteType"/> names the exception type there.</summary>
public sealed class RemoteHandlerException(string remoteType, string message) : Exception($"{remoteType}: {message}")
{
    public string RemoteType { get; } = remoteType;
}
