using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using OrleansLm.Protos.Grpc;

namespace OrleansLm.Client;

/// <summary>
/// gRPC over HTTP/2 to the gateway, on one HttpClient (a channel, in gRPC's terms). Calls fail with
/// <see cref="RpcException"/> only: a status the gateway sent, or one that stands for what went wrong on the way
/// (UNAVAILABLE for a gateway that cannot be reached, DEADLINE_EXCEEDED, CANCELLED, INTERNAL for protocol errors).
/// </summary>
public sealed class GatewayConnection : IDisposable
{
    private readonly HttpClient http;
    private readonly GatewayConnectionOptions options;
    private readonly AuthenticationHeaderValue? authorization;

    public GatewayConnection(GatewayConnectionOptions options)
    {
        if (!options.Address.IsAbsoluteUri || options.Address.Scheme is not ("http" or "https"))
            throw new ArgumentException($"'{options.Address}' is not an absolute http:// or https:// URL", nameof(options.Address));
        if (options.MaxReceiveMessageBytes <= 0)
            throw new ArgumentOutOfRangeException(nameof(options.MaxReceiveMessageBytes), options.MaxReceiveMessageBytes, "must be positive");
        if (options.Token is { } token && (token.Length == 0 || token.Any(c => c is <= ' ' or > '~')))
            throw new ArgumentException("must be non-empty printable ASCII without spaces", nameof(options.Token));
        this.options = options;
        authorization = options.Token is null ? null : new AuthenticationHeaderValue("Bearer", options.Token);
        var handler = new SocketsHttpHandler
        {
            // A watch can be silent for long (a paused run): pings notice a dead gateway instead of waiting forever.
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(20),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            EnableMultipleHttp2Connections = true,
            SslOptions = new SslClientAuthenticationOptions
            {
                ApplicationProtocols = [SslApplicationProtocol.Http2],
                RemoteCertificateValidationCallback = options.ServerCertificateValidation ?? TrustingAlso(options.TrustedAuthorities),
            },
        };
        // Relative method paths resolve under the base address only when it ends with '/' (a gateway behind a path prefix).
        var address = options.Address.AbsoluteUri.EndsWith('/') ? options.Address : new Uri(options.Address.AbsoluteUri + "/");
        http = new HttpClient(handler) { BaseAddress = address, Timeout = Timeout.InfiniteTimeSpan };
    }

    public Uri Address => http.BaseAddress!;

    /// <summary>Calls a method with one request and one response, e.g. <c>/olm.v1.TrainingService/GetRun</c>.</summary>
    /// <param name="timeout">The call's deadline, sent as grpc-timeout and enforced here too; null for none.</param>
    public async Task<TResponse> UnaryAsync<TRequest, TResponse>(
        string method, TRequest request, TimeSpan? timeout = null, CancellationToken cancellation = default)
        where TRequest : IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>, new()
    {
        using var call = await StartAsync(method, request, timeout, cancellation);
        var response = await call.ReadAsync<TResponse>()
                       ?? throw new RpcException(StatusCode.Internal, $"{method} ended with OK but without a response message");
        if (await call.ReadAsync<TResponse>() is not null)
            throw new RpcException(StatusCode.Internal, $"{method} is unary but sent more than one response message");
        return response;
    }

    /// <summary>
    /// Calls a method that answers with a stream of messages, yielded as they arrive. Leaving the enumeration early
    /// or cancelling resets the HTTP/2 stream, which tells the gateway to stop.
    /// </summary>
    public async IAsyncEnumerable<TResponse> ServerStreamingAsync<TRequest, TResponse>(
        string method, TRequest request, TimeSpan? timeout = null, [EnumeratorCancellation] CancellationToken cancellation = default)
        where TRequest : IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>, new()
    {
        using var call = await StartAsync(method, request, timeout, cancellation);
        while (await call.ReadAsync<TResponse>() is { } response) yield return response;
    }

    public void Dispose() => http.Dispose();

    private async Task<GrpcCall> StartAsync<TRequest>(string method, TRequest request, TimeSpan? timeout, CancellationToken cancellation)
        where TRequest : IMessage<TRequest>
    {
        var message = new HttpRequestMessage(HttpMethod.Post, new Uri(Address, method.TrimStart('/')))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(MessageFraming.Frame(request, options.CompressRequests)),
        };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue(GrpcProtocol.ContentType);
        message.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        message.Headers.TryAddWithoutValidation(GrpcProtocol.AcceptEncodingHeader, GrpcProtocol.SupportedEncodings);
        if (options.CompressRequests) message.Headers.TryAddWithoutValidation(GrpcProtocol.EncodingHeader, GrpcProtocol.Gzip);
        if (timeout is { } deadline) message.Headers.TryAddWithoutValidation(GrpcProtocol.TimeoutHeader, GrpcProtocol.FormatTimeout(deadline));
        message.Headers.Authorization = authorization;
        return await GrpcCall.StartAsync(http, message, timeout, options.MaxReceiveMessageBytes, cancellation);
    }

    /// <summary>Accepts what the system trusts, and chains that end at one of <paramref name="authorities"/>.</summary>
    private static RemoteCertificateValidationCallback? TrustingAlso(X509Certificate2Collection? authorities)
    {
        if (authorities is not { Count: > 0 }) return null;
        return (_, certificate, presented, errors) =>
        {
            if (errors == SslPolicyErrors.None) return true;
            // A missing certificate or one for another host is not a question of whom to trust.
            if (errors != SslPolicyErrors.RemoteCertificateChainErrors || certificate is not X509Certificate2 leaf) return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
            // A private CA publishes no revocation list to check.
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (presented is not null)
                foreach (var element in presented.ChainElements) chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            return chain.Build(leaf);
        };
    }
}
