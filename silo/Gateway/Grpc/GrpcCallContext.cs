using System.Runtime.CompilerServices;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using OrleansLm.Protos.Grpc;

namespace OrleansLm.Silo.Gateway.Grpc;

/// <summary>One gRPC call on the gateway: its method, its request stream, and the token that ends it.</summary>
public sealed class GrpcCallContext
{
    private readonly HttpContext http;
    private readonly int maxReceiveMessageBytes;
    private readonly string? requestEncoding;

    internal GrpcCallContext(HttpContext http, MethodDescriptor method, int maxReceiveMessageBytes, string? requestEncoding, long started, CancellationToken cancellation)
    {
        this.http = http;
        Started = started;
        Method = method;
        this.maxReceiveMessageBytes = maxReceiveMessageBytes;
        this.requestEncoding = requestEncoding;
        CancellationToken = cancellation;
    }

    public MethodDescriptor Method { get; }

    /// <summary>When the call arrived, as a <see cref="System.Diagnostics.Stopwatch"/> timestamp.</summary>
    public long Started { get; }

    /// <summary>Cancelled when the client cancels (RST_STREAM, disconnect) or the call's deadline passes.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>Who called, for logs.</summary>
    public string Peer => $"{http.Connection.RemoteIpAddress}:{http.Connection.RemotePort}";

    internal async IAsyncEnumerable<T> ReadRequestsAsync<T>(MessageDescriptor descriptor, [EnumeratorCancellation] CancellationToken cancellation = default)
        where T : IMessage
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, CancellationToken);
        while (await MessageFraming.ReadMessageAsync(http.Request.Body, maxReceiveMessageBytes, requestEncoding, linked.Token) is { } payload)
            yield return (T)MessageValidation.Parse(descriptor.Parser, descriptor, payload);
    }
}
