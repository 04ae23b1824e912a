using Google.Protobuf;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Options;
using OrleansLm.Protos.Grpc;
using OrleansLm.Runtime;
using OrleansLm.Runtime.Grains;
using OrleansLm.Silo.Metrics;

namespace OrleansLm.Silo.Gateway.Grpc;

/// <summary>
/// Serves gRPC over HTTP/2 (grpc/grpc doc/PROTOCOL-HTTP2.md) on Kestrel: checks protocol and content type, finds the
/// method (UNIMPLEMENTED otherwise), checks the caller's token, applies the grpc-timeout deadline, reads and writes
/// length-prefixed messages (gzip both ways), and ends every call with grpc-status and grpc-message: in the trailers,
/// or in the headers alone (trailers-only) when the call fails before its first message.
/// </summary>
public sealed class GrpcEndpoint(
    GrpcMethods methods, GatewayAuth auth, IOptions<GatewayOptions> options, IHostApplicationLifetime lifetime, ILogger<GrpcEndpoint> logger)
{
    /// <summary>The longest delay <see cref="CancellationTokenSource.CancelAfter(TimeSpan)"/> takes.</summary>
    private static readonly TimeSpan MaxTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    public async Task HandleAsync(HttpContext http)
    {
        var request = http.Request;
        var response = http.Response;
        if (!HttpMethods.IsPost(request.Method) || !GrpcProtocol.IsGrpcContentType(request.ContentType))
        {
            // The protocol asks for 415 when the content type is not gRPC's; a browser or curl gets told why.
            response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            SetStatus(response, StatusCode.Internal, $"gRPC calls are POSTs with content-type {GrpcProtocol.ContentType}, not {request.Method} {request.ContentType ?? "(none)"}");
            return;
        }
        if (!HttpProtocol.IsHttp2(request.Protocol))
        {
            response.StatusCode = StatusCodes.Status426UpgradeRequired;
            SetStatus(response, StatusCode.Internal, $"gRPC needs HTTP/2, this request came over {request.Protocol}");
            return;
        }
        // A streaming call may be quiet for long; each message's size is limited instead of the body's.
        if (http.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } rate) rate.MinDataRate = null;
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = null;

        var path = request.Path.Value ?? "";
        using var deadline = new CancellationTokenSource();
        var known = methods.TryGet(path, out var method);
        // A stream (WatchRun, GenerateStream) may stay open for hours: a stopping silo ends it, UNAVAILABLE, so that the
        // client reconnects to another gateway and the silo's drain does not wait for it. Unary calls finish.
        var stopping = known && method.Descriptor.IsServerStreaming ? lifetime.ApplicationStopping : CancellationToken.None;
        using var callCancellation = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, deadline.Token, stopping);
        var started = false;
        var measurement = GatewayMeters.Begin(known ? $"{method.Descriptor.Service.FullName}/{method.Descriptor.Name}" : GatewayMeters.UnknownMethod, known && method.Descriptor.IsServerStreaming);
        var code = StatusCode.OK;
        try
        {
            if (!known)
                throw new RpcException(StatusCode.Unimplemented, $"unknown method {path}");
            auth.Check(method.Access, request.Headers.Authorization);
            var encoding = RequestEncoding(request);
            if (request.Headers.TryGetValue(GrpcProtocol.TimeoutHeader, out var timeoutText))
            {
                var timeout = GrpcProtocol.ParseTimeout(timeoutText)
                    ?? throw new RpcException(StatusCode.InvalidArgument, $"grpc-timeout '{timeoutText}' is not 1-8 digits and a unit (H, M, S, m, u, n)");
                // A timer runs at most ~49.7 days; a longer deadline (grpc-timeout allows 99999999H) cannot pass during a call.
                if (timeout <= MaxTimer) deadline.CancelAfter(timeout);
            }
            var compress = encoding == GrpcProtocol.Gzip && AcceptsGzip(request);
            var call = new GrpcCallContext(http, method.Descriptor, options.Value.MaxReceiveMessageBytes, encoding, measurement.Started, callCancellation.Token);
            await method.Invoke(call, async message =>
            {
                if (!started)
                {
                    StartResponse(response, compress);
                    started = true;
                }
                await MessageFraming.WriteMessageAsync(response.Body, message, compress, callCancellation.Token);
                await response.Body.FlushAsync(callCancellation.Token);
            });
            if (!started) StartResponse(response, compress);
            SetStatus(response, StatusCode.OK, null);
        }
        catch (Exception e) when (http.RequestAborted.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            // The client cancelled or went away: nobody is left to read a status.
            code = StatusCode.Cancelled;
            logger.LogDebug("{Path} cancelled by the client", path);
        }
        catch (Exception e)
        {
            var (status, detail) = e is not OperationCanceledException ? Classify(e)
                : deadline.IsCancellationRequested ? (StatusCode.DeadlineExceeded, "the call's deadline (grpc-timeout) passed")
                : stopping.IsCancellationRequested ? (StatusCode.Unavailable, "the silo is shutting down: call the gateway again to reach another")
                : Classify(e);
            if (status is StatusCode.Internal or StatusCode.Unknown) logger.LogError(e, "{Path} failed", path);
            else logger.LogDebug("{Path}: {Status} {Detail}", path, status, detail);
            if (!started) StartResponse(response, compress: false);
            SetStatus(response, status, detail);
            code = status;
        }
        finally
        {
            measurement.End(code);
        }
    }

    /// <summary>
    /// What a handler's exception tells the client: errors in the request name the field at fault. The live page's JSON
    /// endpoints (<see cref="LivePage"/>) answer with the same statuses and messages.
    /// </summary>
    internal static (StatusCode Status, string Detail) Classify(Exception e) => e switch
    {
        RpcException rpc => (rpc.Status, rpc.Detail),
        ArgumentException argument => (StatusCode.InvalidArgument, ArgumentDetail(argument)),
        KeyNotFoundException notFound => (StatusCode.NotFound, notFound.Message),
        InvalidOperationException conflict => (StatusCode.FailedPrecondition, conflict.Message),
        TimeoutException timeout => (StatusCode.Unavailable, timeout.Message),
        // A grain's silo is stopping or gone (a rolling restart): the next call finds the grain elsewhere, so the client retries.
        SiloUnavailableException unavailable => (StatusCode.Unavailable, unavailable.Message),
        GrainCallException { RemoteType: var type } remote when type == typeof(SiloUnavailableException).FullName => (StatusCode.Unavailable, remote.RemoteMessage),
        _ => (StatusCode.Internal, $"{e.GetType().Name}: {e.Message}"),
    };

    /// <summary>"field: reason" from an ArgumentException whose ParamName is the request field.</summary>
    private static string ArgumentDetail(ArgumentException e)
    {
        var message = e.Message;
        if (e.ParamName is not { Length: > 0 } field) return message;
        var suffix = $" (Parameter '{field}')";
        if (message.EndsWith(suffix, StringComparison.Ordinal)) message = message[..^suffix.Length];
        return message.StartsWith(field + ":", StringComparison.Ordinal) ? message : $"{field}: {message}";
    }

    private static string? RequestEncoding(HttpRequest request)
    {
        var encoding = request.Headers[GrpcProtocol.EncodingHeader].ToString();
        if (encoding.Length == 0 || encoding.Equals(GrpcProtocol.Identity, StringComparison.OrdinalIgnoreCase)) return null;
        if (encoding.Equals(GrpcProtocol.Gzip, StringComparison.OrdinalIgnoreCase)) return GrpcProtocol.Gzip;
        throw new RpcException(StatusCode.Unimplemented, $"grpc-encoding '{encoding}' is not supported; this server reads {GrpcProtocol.SupportedEncodings}");
    }

    private static bool AcceptsGzip(HttpRequest request) =>
        request.Headers[GrpcProtocol.AcceptEncodingHeader].ToString().Split(',')
            .Any(e => e.Trim().Equals(GrpcProtocol.Gzip, StringComparison.OrdinalIgnoreCase));

    private static void StartResponse(HttpResponse response, bool compress)
    {
        response.ContentType = GrpcProtocol.ContentType;
        response.Headers[GrpcProtocol.AcceptEncodingHeader] = GrpcProtocol.SupportedEncodings;
        if (compress) response.Headers[GrpcProtocol.EncodingHeader] = GrpcProtocol.Gzip;
    }

    /// <summary>grpc-status and grpc-message: trailers once the response has begun, else headers of a trailers-only response.</summary>
    private static void SetStatus(HttpResponse response, StatusCode status, string? detail)
    {
        var code = ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (response.HasStarted)
        {
            response.AppendTrailer(GrpcProtocol.StatusHeader, code);
            if (detail is not null) response.AppendTrailer(GrpcProtocol.MessageHeader, GrpcProtocol.EncodeMessage(detail));
        }
        else
        {
            response.Headers[GrpcProtocol.StatusHeader] = code;
            if (detail is not null) response.Headers[GrpcProtocol.MessageHeader] = GrpcProtocol.EncodeMessage(detail);
        }
    }
}
