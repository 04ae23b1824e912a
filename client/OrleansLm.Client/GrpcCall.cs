using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using OrleansLm.Protos.Grpc;

namespace OrleansLm.Client;

/// <summary>
/// One call in flight: its response's messages, then its status from the trailers (or from the headers of a
/// trailers-only response). Disposing it before the end resets the HTTP/2 stream.
/// </summary>
internal sealed class GrpcCall : IDisposable
{
    private readonly HttpResponseMessage response;
    private readonly Stream body;
    private readonly string? encoding;
    private readonly int maxReceiveMessageBytes;
    private readonly Failures failures;

    private GrpcCall(HttpResponseMessage response, Stream body, int maxReceiveMessageBytes, Failures failures)
    {
        this.response = response;
        this.body = body;
        this.maxReceiveMessageBytes = maxReceiveMessageBytes;
        this.failures = failures;
        encoding = response.Headers.TryGetValues(GrpcProtocol.EncodingHeader, out var values) ? values.First() : null;
    }

    /// <summary>Sends the request and checks the response headers; throws the call's status when they already end it.</summary>
    public static async Task<GrpcCall> StartAsync(
        HttpClient http, HttpRequestMessage request, TimeSpan? timeout, int maxReceiveMessageBytes, CancellationToken cancellation)
    {
        var failures = new Failures(request, timeout, cancellation);
        HttpResponseMessage? response = null;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, failures.Token);
            ThrowIfHeadersEndTheCall(response);
            var body = await response.Content.ReadAsStreamAsync(failures.Token);
            return new GrpcCall(response, body, maxReceiveMessageBytes, failures);
        }
        catch (Exception e)
        {
            var failure = Failures.IsTransport(e) ? failures.Translate(e) : null;
            response?.Dispose();
            request.Dispose();
            failures.Dispose();
            if (failure is null) throw;
            throw failure;
        }
    }

    /// <summary>The next message; null once the stream has ended with OK. Any other status is thrown.</summary>
    public async Task<T?> ReadAsync<T>() where T : class, IMessage<T>, new()
    {
        byte[]? payload;
        try
        {
            payload = await MessageFraming.ReadMessageAsync(body, maxReceiveMessageBytes, encoding, failures.Token);
        }
        catch (Exception e) when (Failures.IsTransport(e))
        {
            throw failures.Translate(e);
        }
        if (payload is not null) return Parse<T>(payload);
        // The trailers are there once the body has been read to its end.
        var (status, detail) = StatusOf(response.TrailingHeaders) ?? StatusOf(response.Headers)
            ?? (StatusCode.Internal, $"{failures.Target} ended without a grpc-status");
        if (status != StatusCode.OK) throw new RpcException(status, detail);
        return null;
    }

    public void Dispose()
    {
        body.Dispose();
        response.Dispose();
        // Only now: the request's body may still be on its way while the response streams.
        response.RequestMessage?.Dispose();
        failures.Dispose();
    }

    private static T Parse<T>(byte[] payload) where T : class, IMessage<T>, new()
    {
        try
        {
            return MessageValidation.Parse(ResponseType<T>.Parser, ResponseType<T>.Descriptor, payload);
        }
        catch (RpcException e)
        {
            // A response we cannot read is the server's fault, not an invalid argument of ours.
            throw new RpcException(StatusCode.Internal, $"the response: {e.Detail}", e);
        }
    }

    /// <summary>
    /// An explicit grpc-status in the headers (a trailers-only response) wins over the HTTP status, as in grpc's own
    /// clients; then a non-200 HTTP status maps as http-grpc-status-mapping.md says; then the content type must be gRPC's.
    /// </summary>
    private static void ThrowIfHeadersEndTheCall(HttpResponseMessage response)
    {
        if (StatusOf(response.Headers) is var (status, detail))
        {
            if (status != StatusCode.OK) throw new RpcException(status, detail);
        }
        else if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new RpcException(FromHttpStatus(response.StatusCode),
                $"the gateway answered HTTP {(int)response.StatusCode} {response.ReasonPhrase} without a gRPC status");
        }
        var contentType = response.Content.Headers.ContentType?.ToString();
        if (!GrpcProtocol.IsGrpcContentType(contentType))
            throw new RpcException(StatusCode.Internal, $"the answer is not gRPC: content-type '{contentType}'");
    }

    private static (StatusCode Status, string Detail)? StatusOf(HttpHeaders headers)
    {
        if (!headers.TryGetValues(GrpcProtocol.StatusHeader, out var values)) return null;
        var detail = headers.TryGetValues(GrpcProtocol.MessageHeader, out var messages) ? GrpcProtocol.DecodeMessage(messages.First()) : "";
        var text = values.First();
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var code))
            return (StatusCode.Internal, $"invalid grpc-status '{text}'" + (detail.Length > 0 ? $" ({detail})" : ""));
        // statuscodes.md: a code this client does not know reads as UNKNOWN.
        return (Enum.IsDefined((StatusCode)code) ? (StatusCode)code : StatusCode.Unknown, detail);
    }

    private static StatusCode FromHttpStatus(HttpStatusCode code) => code switch
    {
        HttpStatusCode.BadRequest => StatusCode.Internal,
        HttpStatusCode.Unauthorized => StatusCode.Unauthenticated,
        HttpStatusCode.Forbidden => StatusCode.PermissionDenied,
        HttpStatusCode.NotFound => StatusCode.Unimplemented,
        HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout
            => StatusCode.Unavailable,
        // The server would not take application/grpc: a protocol mismatch, like a 400.
        HttpStatusCode.UnsupportedMediaType => StatusCode.Internal,
        _ when (int)code < 200 => StatusCode.Internal,
        _ => StatusCode.Unknown,
    };

    private static class ResponseType<T> where T : class, IMessage<T>, new()
    {
        public static readonly MessageParser<T> Parser = new(() => new T());
        public static readonly MessageDescriptor Descriptor = new T().Descriptor;
    }

    /// <summary>The call's cancellation (the caller's token and the deadline) and what a failure on the way means.</summary>
    private sealed class Failures : IDisposable
    {
        private readonly CancellationTokenSource lifetime;
        private readonly CancellationToken caller;
        private readonly TimeSpan? timeout;

        public Failures(HttpRequestMessage request, TimeSpan? timeout, CancellationToken caller)
        {
            this.caller = caller;
            this.timeout = timeout;
            Target = request.RequestUri!.ToString();
            lifetime = CancellationTokenSource.CreateLinkedTokenSource(caller);
            if (timeout is { } deadline) lifetime.CancelAfter(deadline < TimeSpan.Zero ? TimeSpan.Zero : deadline);
        }

        public CancellationToken Token => lifetime.Token;

        /// <summary>The method's URL, for messages.</summary>
        public string Target { get; }

        public static bool IsTransport(Exception e) => e is HttpRequestException or IOException or OperationCanceledException;

        public RpcException Translate(Exception e)
        {
            if (caller.IsCancellationRequested) return new RpcException(StatusCode.Cancelled, "the call was cancelled", e);
            if (lifetime.IsCancellationRequested)
                return new RpcException(StatusCode.DeadlineExceeded, $"no complete answer within the deadline of {timeout?.TotalSeconds:0.###} s", e);
            if ((e as HttpProtocolException ?? e.InnerException as HttpProtocolException) is { } reset)
                return new RpcException(FromHttp2Error(reset.ErrorCode), $"the HTTP/2 stream was reset: {reset.Message}", e);
            var reason = e.InnerException is { } inner && !e.Message.Contains(inner.Message) ? $"{e.Message} ({inner.Message})" : e.Message;
            return new RpcException(StatusCode.Unavailable, $"cannot reach the gateway for {Target}: {reason}", e);
        }

        public void Dispose() => lifetime.Dispose();

        // PROTOCOL-HTTP2.md, "Errors": RST_STREAM codes as statuses.
        private static StatusCode FromHttp2Error(long code) => code switch
        {
            0x7 => StatusCode.Unavailable, // REFUSED_STREAM: the server did not start on it, a retry may succeed
            0x8 => StatusCode.Cancelled, // CANCEL
            0xB => StatusCode.ResourceExhausted, // ENHANCE_YOUR_CALM
            0xC => StatusCode.PermissionDenied, // INADEQUATE_SECURITY
            _ => StatusCode.Internal,
        };
    }
}
