using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using OrleansLm.Protos.Grpc;
using OrleansLm.Protos.Health.V1;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// gRPC calls as raw HTTP/2 requests with <see cref="HttpClient"/>: whatever bytes and headers a test chooses, and the
/// response as it arrived (HTTP status, grpc-status and grpc-message from the trailers or a trailers-only response's
/// headers, and the length-prefixed messages). Over http:// it speaks HTTP/2 with prior knowledge (h2c), as gRPC does.
/// </summary>
public sealed class RawGrpcClient : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly HttpClient http;

    public RawGrpcClient(Uri address, HttpMessageHandler? handler = null)
    {
        http = new HttpClient(handler ?? new SocketsHttpHandler()) { BaseAddress = address, Timeout = Timeout };
    }

    /// <summary>A handler that accepts exactly <paramref name="certificate"/> from the server (a self-signed one).</summary>
    public static SocketsHttpHandler Trusting(X509Certificate2 certificate) => new()
    {
        SslOptions = { RemoteCertificateValidationCallback = (_, presented, _, _) => presented is not null && presented.GetCertHash().AsSpan().SequenceEqual(certificate.GetCertHash()) },
    };

    /// <summary>One length-prefixed message, gzip-compressed when <paramref name="compress"/>.</summary>
    public static byte[] Frame(IMessage message, bool compress = false) => MessageFraming.Frame(message, compress);

    /// <summary>Posts <paramref name="body"/> to <paramref name="path"/> with gRPC's headers (the content type unless given, te: trailers) and <paramref name="headers"/>.</summary>
    public async Task<RawGrpcResponse> CallAsync(
        string path, byte[] body, IEnumerable<(string Name, string Value)>? headers = null, string contentType = GrpcProtocol.ContentType)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact, Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        request.Headers.TryAddWithoutValidation("te", "trailers");
        foreach (var (name, value) in headers ?? [])
            request.Headers.TryAddWithoutValidation(name, value);
        using var response = await http.SendAsync(request);
        var payload = await response.Content.ReadAsByteArrayAsync();
        return await RawGrpcResponse.ReadAsync(response, payload);
    }

    /// <summary>A unary call of <paramref name="request"/> that must succeed: its response message.</summary>
    public async Task<TResponse> UnaryAsync<TResponse>(string path, IMessage request, string? token = null) where TResponse : IMessage<TResponse>, new()
    {
        var response = await CallAsync(path, Frame(request), token is null ? null : [Bearer(token)]);
        if (response.Status != StatusCode.OK || response.Messages.Count != 1)
            throw new InvalidOperationException($"{path} ended {response}");
        return new MessageParser<TResponse>(() => new TResponse()).ParseFrom(response.Messages[0]);
    }

    /// <summary>grpc.health.v1.Health/Check of the whole server.</summary>
    public async Task<HealthCheckResponse.Types.ServingStatus> HealthAsync() =>
        (await UnaryAsync<HealthCheckResponse>("/grpc.health.v1.Health/Check", new HealthCheckRequest())).Status;

    public static (string Name, string Value) Bearer(string token) => ("authorization", $"Bearer {token}");

    public void Dispose() => http.Dispose();
}

/// <param name="Status">grpc-status; null when the response carried none.</param>
/// <param name="Headers">The response headers, and the content headers, by lower-case name.</param>
public sealed record RawGrpcResponse(
    HttpStatusCode HttpStatus, StatusCode? Status, string? Message, IReadOnlyList<byte[]> Messages, bool TrailersOnly, IReadOnlyDictionary<string, string> Headers)
{
    public static async Task<RawGrpcResponse> ReadAsync(HttpResponseMessage response, byte[] body)
    {
        var headers = response.Headers.Concat(response.Content.Headers)
            .ToDictionary(h => h.Key.ToLowerInvariant(), h => string.Join(",", h.Value));
        var trailers = response.TrailingHeaders.ToDictionary(h => h.Key.ToLowerInvariant(), h => string.Join(",", h.Value));
        var trailersOnly = !trailers.ContainsKey(GrpcProtocol.StatusHeader) && headers.ContainsKey(GrpcProtocol.StatusHeader);
        var status = trailersOnly ? headers : trailers;
        var messages = new List<byte[]>();
        using var stream = new MemoryStream(body);
        while (await MessageFraming.ReadMessageAsync(stream, int.MaxValue, headers.GetValueOrDefault(GrpcProtocol.EncodingHeader), CancellationToken.None) is { } payload)
            messages.Add(payload);
        return new RawGrpcResponse(
            response.StatusCode,
            status.TryGetValue(GrpcProtocol.StatusHeader, out var code) ? (StatusCode)int.Parse(code, System.Globalization.CultureInfo.InvariantCulture) : null,
            status.TryGetValue(GrpcProtocol.MessageHeader, out var message) ? GrpcProtocol.DecodeMessage(message) : null,
            messages, trailersOnly, headers);
    }

    public override string ToString() =>
        $"HTTP {(int)HttpStatus}, grpc-status {Status?.ToString() ?? "(none)"} '{Message}', {Messages.Count} message(s){(TrailersOnly ? ", trailers-only" : "")}";
}
