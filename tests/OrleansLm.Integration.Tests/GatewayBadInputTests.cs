using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using Google.Protobuf;
using OrleansLm.Protos.Grpc;
using OrleansLm.Protos.Health.V1;
using OrleansLm.Protos.V1;
using Xunit.Abstractions;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// What the gateway makes of requests no well-behaved gRPC client sends: raw HTTP/2 requests (<see cref="RawGrpcClient"/>)
/// with broken frames, wrong headers, oversized or invalid messages and out-of-range fields. Each gets a clear status
/// naming what is wrong, and the gateway goes on serving: grpc.health.v1.Health/Check answers SERVING after every one.
/// </summary>
public sealed class GatewayBadInputTests(GatewayBadInputTests.SiloWithModel silo) : IClassFixture<GatewayBadInputTests.SiloWithModel>
{
    private const string Model = "bad-input-model";
    private const string HealthCheck = "/grpc.health.v1.Health/Check";
    private const string Generate = "/olm.v1.SamplingService/Generate";

    /// <summary>The gateway silo with a model to sample from, so that a request fails only for what is wrong with it.</summary>
    public sealed class SiloWithModel(IMessageSink diagnostics) : GatewaySilo(diagnostics)
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await TrainModelAsync(Model, steps: 5);
        }
    }

    /// <summary>A request that fails, and how: its status and words its grpc-message must contain.</summary>
    public sealed record BadRequest(string Path, byte[] Body, StatusCode Status, string[] MessageContains, (string Name, string Value)[]? Headers = null);

    private static readonly IReadOnlyDictionary<string, Func<GatewaySilo, BadRequest>> BadRequests = new Dictionary<string, Func<GatewaySilo, BadRequest>>
    {
        ["compressed flag 7"] = _ => new(HealthCheck, [7, 0, 0, 0, 0], StatusCode.Internal, ["compressed flag 7"]),
        ["length prefix beyond the body"] = _ => new(HealthCheck, [0, 0, 0, 0, 10, 1, 2, 3], StatusCode.Internal, ["truncated", "10 bytes", "after 3"]),
        ["3-byte body"] = _ => new(HealthCheck, [0, 0, 0], StatusCode.Internal, ["truncated", "3 byte(s)"]),
        ["compressed message without grpc-encoding"] = _ => new(HealthCheck, RawGrpcClient.Frame(new HealthCheckRequest(), compress: true), StatusCode.Internal, ["compressed", "identity"]),
        ["message over the limit"] = s => new(Generate, RawGrpcClient.Frame(Request(prompt: new string('a', GatewaySilo.MaxReceiveMessageBytes))),
            StatusCode.ResourceExhausted, [$"limit of {GatewaySilo.MaxReceiveMessageBytes} bytes"], [RawGrpcClient.Bearer(s.SamplingToken)]),
        ["gzip bomb"] = s => new(Generate, GzipBomb(), StatusCode.ResourceExhausted, ["decompressed", $"{GatewaySilo.MaxReceiveMessageBytes}"],
            [RawGrpcClient.Bearer(s.SamplingToken), ("grpc-encoding", "gzip")]),
        ["not protobuf"] = s => new(Generate, Framed([0x0A, 0x05, 0x01]), StatusCode.InvalidArgument, ["not a valid olm.v1.GenerateRequest"], [RawGrpcClient.Bearer(s.SamplingToken)]),
        ["prompt not UTF-8"] = s => new(Generate, Framed([.. Request(prompt: "").ToByteArray(), 0x12, 0x02, 0xC3, 0x28]), StatusCode.InvalidArgument,
            ["prompt: not valid UTF-8"], [RawGrpcClient.Bearer(s.SamplingToken)]),
        ["NaN temperature"] = s => Invalid(s, Request(temperature: double.NaN), "temperature: ", "NaN"),
        ["negative top_k"] = s => Invalid(s, Request(topK: -1), "top_k: ", "-1"),
        ["top_p 1.5"] = s => Invalid(s, Request(topP: 1.5), "top_p: ", "1.5"),
        ["max_new_tokens over the limit"] = s => Invalid(s, Request(maxNewTokens: GatewaySilo.MaxNewTokens + 1), "max_new_tokens: ", "Gateway:MaxNewTokens"),
        ["n over the limit"] = s => Invalid(s, Request(n: GatewaySilo.MaxSamples + 1), "n: ", "Gateway:MaxSamples"),
        ["unknown run"] = s => new("/olm.v1.TrainingService/GetRun", RawGrpcClient.Frame(new GetRunRequest { RunId = "no-such-run" }), StatusCode.NotFound,
            ["run_id: ", "no-such-run"], [RawGrpcClient.Bearer(s.AdminToken)]),
        ["bad grpc-timeout"] = _ => new(HealthCheck, RawGrpcClient.Frame(new HealthCheckRequest()), StatusCode.InvalidArgument, ["grpc-timeout", "'5 seconds'"],
            [("grpc-timeout", "5 seconds")]),
        ["grpc-encoding br"] = _ => new(HealthCheck, RawGrpcClient.Frame(new HealthCheckRequest()), StatusCode.Unimplemented, ["grpc-encoding 'br'"],
            [("grpc-encoding", "br")]),
    };

    public static TheoryData<string> BadRequestNames => [.. BadRequests.Keys];

    [Theory]
    [MemberData(nameof(BadRequestNames))]
    public async Task BadRequestGetsAClearStatusAndTheGatewayKeepsServing(string name)
    {
        var bad = BadRequests[name](silo);
        using var client = silo.Client();
        var response = await client.CallAsync(bad.Path, bad.Body, bad.Headers);
        response.HttpStatus.Should().Be(HttpStatusCode.OK, "gRPC reports errors in grpc-status");
        response.Status.Should().Be(bad.Status, response.ToString());
        response.Messages.Should().BeEmpty();
        foreach (var part in bad.MessageContains)
            response.Message.Should().Contain(part);
        response.Headers.Should().ContainKey(GrpcProtocol.AcceptEncodingHeader, "a client learns which encodings it may send");
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task ValidRequestOnTheSameModelSucceeds()
    {
        // The control for the cases above: what makes them fail is what is wrong with them.
        using var client = silo.Client();
        var response = await client.UnaryAsync<GenerateResponse>(Generate, Request(maxNewTokens: 5), silo.SamplingToken);
        response.Completions.Single().Tokens.Should().HaveCount(5);
    }

    [Fact]
    public async Task GzipRequestGetsAGzipResponseThatDecodesToTheSameAnswer()
    {
        using var client = silo.Client();
        var plain = await client.UnaryAsync<GenerateResponse>(Generate, Request(maxNewTokens: 8), silo.SamplingToken);
        var compressed = await client.CallAsync(Generate, RawGrpcClient.Frame(Request(maxNewTokens: 8), compress: true),
            [RawGrpcClient.Bearer(silo.SamplingToken), ("grpc-encoding", "gzip"), ("grpc-accept-encoding", "gzip")]);
        compressed.Status.Should().Be(StatusCode.OK, compressed.ToString());
        compressed.Headers.Should().Contain("grpc-encoding", "gzip");
        GenerateResponse.Parser.ParseFrom(compressed.Messages.Single()).Should().Be(plain);
    }

    [Fact]
    public async Task WrongContentTypeIsRefusedWith415()
    {
        using var client = silo.Client();
        var response = await client.CallAsync(HealthCheck, RawGrpcClient.Frame(new HealthCheckRequest()), contentType: "text/plain");
        response.HttpStatus.Should().Be(HttpStatusCode.UnsupportedMediaType);
        response.Message.Should().Contain("application/grpc").And.Contain("text/plain");
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Http11RequestOnTheH2OnlyPortFailsCleanly()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(silo.Address, HealthCheck))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(RawGrpcClient.Frame(new HealthCheckRequest())),
        };
        request.Content.Headers.ContentType = new("application/grpc");
        // Kestrel recognises HTTP/1.x on an HTTP/2-only endpoint: it answers 400 with why, and closes the connection.
        using var response = await http.SendAsync(request);
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).Should().Contain("HTTP/2 only endpoint");
        response.Headers.ConnectionClose.Should().BeTrue();
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task PassedDeadlineEndsAStreamWithDeadlineExceeded()
    {
        using var client = silo.Client();
        // Health/Watch never ends by itself: only the server's deadline can end it here.
        var response = await client.CallAsync("/grpc.health.v1.Health/Watch", RawGrpcClient.Frame(new HealthCheckRequest()), [("grpc-timeout", "300m")]);
        response.Status.Should().Be(StatusCode.DeadlineExceeded, response.ToString());
        response.TrailersOnly.Should().BeFalse("the first status went out before the deadline");
        HealthCheckResponse.Parser.ParseFrom(response.Messages.Single()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        await AssertStillServingAsync();
    }

    [Theory]
    [InlineData("99999999H")]
    [InlineData("99999999M")]
    [InlineData("2S")]
    public async Task AnyWellFormedGrpcTimeoutIsAccepted(string timeout)
    {
        // 8 digits of hours is a valid grpc-timeout (the most a client can send), longer than any timer runs.
        using var client = silo.Client();
        var response = await client.CallAsync(HealthCheck, RawGrpcClient.Frame(new HealthCheckRequest()), [("grpc-timeout", timeout)]);
        response.Status.Should().Be(StatusCode.OK, response.ToString());
        HealthCheckResponse.Parser.ParseFrom(response.Messages.Single()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    private async Task AssertStillServingAsync()
    {
        using var client = silo.Client();
        (await client.HealthAsync()).Should().Be(HealthCheckResponse.Types.ServingStatus.Serving, silo.OutputTail());
    }

    private static BadRequest Invalid(GatewaySilo silo, GenerateRequest request, string field, string detail) =>
        new(Generate, RawGrpcClient.Frame(request), StatusCode.InvalidArgument, [field, detail], [RawGrpcClient.Bearer(silo.SamplingToken)]);

    private static GenerateRequest Request(
        string prompt = "to be", int maxNewTokens = 4, double temperature = 0, int topK = 0, double topP = 0, int n = 0) => new()
    {
        Model = Model, Prompt = prompt, MaxNewTokens = maxNewTokens, Temperature = temperature, TopK = topK, TopP = topP, N = n,
    };

    /// <summary>A 5-byte header and <paramref name="payload"/> as it is, whatever it holds.</summary>
    private static byte[] Framed(byte[] payload)
    {
        var frame = new byte[MessageFraming.HeaderLength + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(MessageFraming.HeaderLength));
        return frame;
    }

    /// <summary>A GenerateRequest of 16 times the message limit that gzip squeezes to a few kilobytes, sent compressed.</summary>
    private static byte[] GzipBomb()
    {
        var message = Request(prompt: new string('a', 16 * GatewaySilo.MaxReceiveMessageBytes)).ToByteArray();
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true)) gzip.Write(message);
        compressed.Length.Should().BeLessThan(GatewaySilo.MaxReceiveMessageBytes, "the bomb must pass the check of its compressed size");
        var frame = Framed(compressed.ToArray());
        frame[0] = 1;
        return frame;
    }
}
