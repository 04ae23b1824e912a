using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using OrleansLm.Protos.Grpc;

namespace OrleansLm.GatewayBench;

/// <summary>
/// The least of a gRPC client the benchmark needs, on purpose apart from client/: unary and server-streaming calls
/// over HTTP/2 cleartext with prior knowledge (one connection, as gRPC clients keep one per channel), messages framed
/// by <see cref="MessageFraming"/> without compression, and the call's grpc-status read from the trailers (or from the
/// headers of a trailers-only answer). A status other than OK is thrown as <see cref="RpcException"/>.
/// </summary>
internal sealed class GrpcCaller(Uri address) : IDisposable
{
    private readonly HttpClient http = new(new SocketsHttpHandler { EnableMultipleHttp2Connections = false })
    {
        BaseAddress = address,
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>The path of <paramref name="service"/>'s method <paramref name="name"/>: /package.Service/Method.</summary>
    public static string Path(ServiceDescriptor service, string name) =>
        $"/{service.FullName}/{(service.FindMethodByName(name) ?? throw new ArgumentException($"{service.FullName} has no method {name}", nameof(name))).Name}";

    public async Task<TResponse> UnaryAsync<TResponse>(string path, IMessage request, MessageParser<TResponse> parser, CancellationToken cancellation = default)
        where TResponse : IMessage<TResponse>
    {
        TResponse? response = default;
        await foreach (var message in StreamAsync(path, request, parser, cancellation))
            response = response is null ? message : throw new RpcException(StatusCode.Internal, $"{path} answered a unary call with more than one message");
        return response ?? throw new RpcException(StatusCode.Internal, $"{path} answered a unary call with no message");
    }

    public async IAsyncEnumerable<TResponse> StreamAsync<TResponse>(
        string path, IMessage request, MessageParser<TResponse> parser, [EnumeratorCancellation] CancellationToken cancellation = default)
        where TResponse : IMessage<TResponse>
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(MessageFraming.Frame(request, compress: false)),
        };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue(GrpcProtocol.ContentType);
        message.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellation);
        if (response.StatusCode != HttpStatusCode.OK)
            throw new RpcException(StatusCode.Internal, $"{path}: HTTP status {(int)response.StatusCode}");
        var encoding = response.Headers.TryGetValues(GrpcProtocol.EncodingHeader, out var encodings) ? encodings.First() : null;
        await using var body = await response.Content.ReadAsStreamAsync(cancellation);
        while (await MessageFraming.ReadMessageAsync(body, MessageFraming.DefaultMaxMessageBytes, encoding, cancellation) is { } payload)
            yield return parser.ParseFrom(payload);
        // The body has ended, so the trailers have arrived; a trailers-only answer carries the status in its headers.
        var status = Header(response.Headers, GrpcProtocol.StatusHeader) ?? Header(response.TrailingHeaders, GrpcProtocol.StatusHeader)
            ?? throw new RpcException(StatusCode.Internal, $"{path} ended without a grpc-status");
        if (status != "0")
        {
            var detail = Header(response.Headers, GrpcProtocol.MessageHeader) ?? Header(response.TrailingHeaders, GrpcProtocol.MessageHeader) ?? "";
            throw new RpcException(Enum.TryParse<StatusCode>(status, out var code) ? code : StatusCode.Unknown, $"{path}: {GrpcProtocol.DecodeMessage(detail)}");
        }
    }

    public void Dispose() => http.Dispose();

    private static string? Header(HttpHeaders headers, string name) => headers.TryGetValues(name, out var values) ? values.First() : null;
}
