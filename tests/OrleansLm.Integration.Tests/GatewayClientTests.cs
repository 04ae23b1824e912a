using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using OrleansLm.Client;
using OrleansLm.Protos.Grpc;
using OrleansLm.Protos.Health.V1;
using OrleansLm.Protos.V1;

namespace OrleansLm.Integration.Tests;

/// <summary>The gRPC client's protocol handling, against <see cref="FakeGateway"/>, a minimal peer written apart from it.</summary>
public class GatewayClientTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task UnaryCallRoundTripsCarryingTheTokenAndTheGrpcHeaders()
    {
        var headers = new Dictionary<string, string?>();
        GetRunRequest? received = null;
        await using var gateway = await FakeGateway.StartAsync(app => app.MapPost("/olm.v1.TrainingService/GetRun", async context =>
        {
            foreach (var name in new[] { "content-type", "authorization", "te", "grpc-accept-encoding", "grpc-encoding", "grpc-timeout" })
                headers[name] = context.Request.Headers[name].FirstOrDefault();
            headers["protocol"] = context.Request.Protocol;
            received = await FakeGateway.ReadRequestAsync(context, GetRunRequest.Parser);
            await FakeGateway.BeginAsync(context);
            await FakeGateway.SendAsync(context, new Run { RunId = received.RunId.ToUpperInvariant(), State = RunState.Running, Step = 42, Loss = 1.25 });
            FakeGateway.End(context, StatusCode.OK);
        }));
        using var connection = new GatewayConnection(new GatewayConnectionOptions { Address = gateway.Address, Token = "s3cret-token" });

        var run = await new TrainingClient(connection).GetRunAsync(new GetRunRequest { RunId = "demo-7" });

        run.Should().Be(new Run { RunId = "DEMO-7", State = RunState.Running, Step = 42, Loss = 1.25 });
        received!.RunId.Should().Be("demo-7");
        headers["protocol"].Should().Be("HTTP/2");
        headers["content-type"].Should().Be("application/grpc");
        headers["authorization"].Should().Be("Bearer s3cret-token");
        headers["te"].Should().Be("trailers");
        headers["grpc-accept-encoding"]!.Split(',').Should().BeEquivalentTo("gzip", "identity");
        headers["grpc-encoding"].Should().BeNull("requests are not compressed unless asked");
        headers["grpc-timeout"].Should().BeNull("no deadline was given");
    }

    [Fact]
    public async Task TrailersOnlyErrorCarriesItsStatusAndPercentDecodedMessage()
    {
        await using var gateway = await FakeGateway.StartAsync(app => app.MapPost("/grpc.health.v1.Health/Check", async context =>
        {
            await FakeGateway.ReadRequestAsync(context, HealthCheckRequest.Parser);
            FakeGateway.EndTrailersOnly(context, StatusCode.NotFound, "unknown service %C3%9Cbersicht: 100%25 unknown");
        }));
        using var connection = new GatewayConnection(new GatewayConnectionOptions { Address = gateway.Address });

        var error = await Assert.ThrowsAsync<RpcException>(() => new HealthClient(connection).CheckAsync(new HealthCheckRequest { Service = "Übersicht" }));

        error.Status.Should().Be(StatusCode.NotFound);
        error.Detail.Should().Be("unknown service Übersicht: 100% unknown");
    }

    [Fact]
    public async Task ServerStreamingYieldsEachMessageAsItArrivesThenEnds()
    {
        RunEvent[] events =
        [
            new() { Status = new Run { RunId = "demo", State = RunState.Running, Step = 10, TotalSteps = 40 } },
            new() { Step = new StepEvent { Step = 11, TotalSteps = 40, Loss = 2.5, TokensPerSecond = 1000 } },
            new() { Evaluation = new EvaluationEvent { Step = 11, ValidationLoss = 2.75, ValidationPerplexity = Math.Exp(2.75) } },
            new() { Status = new Run { RunId = "demo", State = RunState.Completed, Step = 40, TotalSteps = 40 } },
        ];
        var firstArrived = new TaskCompletionSource();
        WatchRunRequest? received = null;
        await using var gateway = await FakeGateway.StartAsync(app => app.MapPost("/olm.v1.TrainingService/WatchRun", async context =>
        {
            received = await FakeGateway.ReadRequestAsync(context, WatchRunRequest.Parser);
            await FakeGateway.BeginAsync(context);
            await FakeGateway.SendAsync(context, events[0]);
            // The rest only once the client holds the first: a client that waited for the end would never get it.
            await firstArrived.Task.WaitAsync(Patience);
            foreach (var next in events.Skip(1)) await FakeGateway.SendAsync(context, next);
            FakeGateway.End(context, StatusCode.OK);
        }));
        using var connection = new GatewayConnection(new GatewayConnectionOptions { Address = gateway.Address });

        var arrived = new List<RunEvent>();
        await foreach (var update in new TrainingClient(connection).WatchRunAsync(new WatchRunRequest { RunId = "demo", FromStep = -1 }))
        {
            arrived.Add(update);
            firstArrived.TrySetResult();
        }

        arrived.Should().Equal(events);
        received.Should().Be(new WatchRunRequest { RunId = "demo", FromStep = -1 });
    }

    [Fact]
    public async Task StreamEndingWithAnErrorYieldsItsMessagesThenThrowsTheStatus()
    {
        GenerateChunk[] chunks = [new() { Token = new GeneratedToken { Id = 3, Text = "a" } }, new() { Token = new GeneratedToken { Id = 4, Text = "b" } }];
        await using var gateway = await FakeGateway.StartAsync(app => app.MapPost("/olm.v1.SamplingService/GenerateStream", async context =>
        {
            await FakeGateway.ReadRequestAsync(context, GenerateRequest.Parser);
            await FakeGateway.BeginAsync(context);
            foreach (var chunk in chunks) await FakeGateway.SendAsync(context, chunk);
            FakeGateway.End(context, StatusCode.FailedPrecondition, "run%20demo was stopped");
        }));
        using var connection = new GatewayConnection(new GatewayConnectionOptions { Address = gateway.Address });

        var arrived = new List<GenerateChunk>();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var chunk in new SamplingClient(connection).GenerateStreamAsync(new GenerateRequest { Model = "run:demo", Prompt = "x" }))
                arrived.Add(chunk);
        });

        arrived.Should().Equal(chunks);
        error.Status.Should().Be(StatusCode.FailedPrecondition);
        error.Detail.Should().Be("run demo was stopped");
    }

    [Fact]
    public async Task PassingTheDeadlineFailsTheCallAndAbortsItOnTheServer()
    {
        string? timeoutHeader = null;
        var aborted = new TaskCompletionSource();
        await using var gateway = await FakeGateway.StartAsync(app => app.MapPost("/olm.v1.TrainingService/ListRuns", async context =>
        {
            timeoutHeader = context.Request.Headers[GrpcProtocol.TimeoutHeader].FirstOrDefault();
            await FakeGateway.ReadRequestAsync(context, ListRunsRequest.Parser);
            try
            {
                await Task.Delay(Patience, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                aborted.TrySetResult();
            }
        }));
        using var connection = new GatewayConnection(new GatewayConnectionOptions { Address = gateway.Address });
        var deadline = TimeSpan.FromMilliseconds(300);

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<RpcException>(() => new TrainingClient(connection).ListRunsAsync(new ListRunsRequest(), deadline));
        clock.Stop();

        error.Status.Should().Be(StatusCode.DeadlineExceeded);
        clock.Elapsed.Should().BeGreaterThanOrEqualTo(deadline - TimeSpan.FromMilliseconds(20)).And.BeLessThan(TimeSpan.FromSeconds(5));
        GrpcProtocol.ParseTimeout(timeoutHeader).Should().Be(deadline, $"the server was told the deadline (grpc-timeout: {timeoutHeader})");
        await aborted.Task.WaitAsync(Patience);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task CancellingOrLeavingAStreamAbortsItOnTheServer(bool byCancelling)
    {
        var aborted = new TaskCompletionSource();
        await using var gateway = await FakeGateway.StartAsync(app => app.MapPost("/olm.v1.SamplingService/GenerateStream", async context =>
        {
            await FakeGateway.ReadRequestAsync(context, GenerateRequest.Parser);
            await FakeGateway.BeginAsync(context);
            await FakeGateway.SendAsync(context, new GenerateChunk { Token = new GeneratedToken { Id = 7, Text = "a" } });
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                aborted.TrySetResult();
            }
        }));
        using var connection = new GatewayConnection(new GatewayConnectionOptions { Address = gateway.Address });
        var sampling = new SamplingClient(connection);
        var request = new GenerateRequest { Model = "run:demo", Prompt = "x" };

        var arrived = new List<GenerateChunk>();
        if (byCancelling)
        {
            using var cancellation = new CancellationTokenSource();
            var error = await Assert.ThrowsAsync<RpcException>(async () =>
            {
                await foreach (var chunk in sampling.GenerateStreamAsync(request, cancellation: cancellation.Token))
                {
                    arrived.Add(chunk);
                    await cancellation.CancelAsync();
                }
            });
            error.Status.Should().Be(StatusCode.Cancelled);
        }
        else
        {
            await foreach (var chunk in sampling.GenerateStreamAsync(request))
            {
                arrived.Add(chunk);
                break;
            }
        }

        arrived.Should().ContainSingle().Which.Token.Id.Should().Be(7);
        await aborted.Task.WaitAsync(Patience);
    }

    [Fact]
    public async Task GzipCompressesRequestsWhenAskedAndDecodesGzipResponses()
    {
        var expected = new ScoreResponse { Model = "run:demo", AverageSurprisal = 1.5, Perplexity = Math.Exp(1.5) };
        expected.Tokens.Add(Enumerable.Range(0, 50).Select(i => new GeneratedToken { Id = i, Text = "tok", Logprob = -i / 10.0 }));
        string? requestEncoding = null;
        byte requestFlag = 0;
        ScoreRequest? received = null;
        await using var gateway = await FakeGateway.StartAsync(app => app.MapPost("/olm.v1.SamplingService/Score", async context =>
        {
            // Read and answer by hand, with the BCL's gzip: the peer shares no framing code with the client here.
            requestEncoding = context.Request.Headers[GrpcProtocol.EncodingHeader].FirstOrDefault();
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            var frame = body.ToArray();
            requestFlag = frame[0];
            BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(1)).Should().Be((uint)(frame.Length - 5));
            received = ScoreRequest.Parser.ParseFrom(Gunzip(frame[5..]));

            var payload = Gzip(expected.ToByteArray());
            var response = new byte[5 + payload.Length];
            response[0] = 1;
            BinaryPrimitives.WriteUInt32BigEndian(response.AsSpan(1), (uint)payload.Length);
            payload.CopyTo(response, 5);
            context.Response.Headers[GrpcProtocol.EncodingHeader] = "gzip";
            await FakeGateway.BeginAsync(context);
            await context.Response.Body.WriteAsync(response);
            FakeGateway.End(context, StatusCode.OK);
        }));
        using var connection = new GatewayConnection(new GatewayConnectionOptions { Address = gateway.Address, CompressRequests = true });
        var text = string.Concat(Enumerable.Repeat("to be or not to be ", 100));

        var score = await new SamplingClient(connection).ScoreAsync(new ScoreRequest { Model = "run:demo", Text = text });

        score.Should().Be(expected);
        requestEncoding.Should().Be("gzip");
        requestFlag.Should().Be(1, "the message is marked compressed");
        received!.Text.Should().Be(text);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ResponseOverTheReceiveLimitIsResourceExhausted(bool compressed)
    {
        const int limit = 1000;
        // 4 KiB of one letter: gzip makes it far smaller than the limit, but not once decompressed.
        var oversized = new Run { RunId = "demo", Error = new string('x', 4 * limit) };
        await using var gateway = await FakeGateway.StartAsync(app => app.MapPost("/olm.v1.TrainingService/GetRun", async context =>
        {
            await FakeGateway.ReadRequestAsync(context, GetRunRequest.Parser);
            await FakeGateway.BeginAsync(context, compressed ? "gzip" : null);
            await context.Response.Body.WriteAsync(MessageFraming.Frame(oversized, compressed));
            FakeGateway.End(context, StatusCode.OK);
        }));
        using var connection = new GatewayConnection(new GatewayConnectionOptions { Address = gateway.Address, MaxReceiveMessageBytes = limit });
        if (compressed) MessageFraming.Frame(oversized, compress: true).Length.Should().BeLessThan(limit, "else the test would not test decompression");

        var error = await Assert.ThrowsAsync<RpcException>(() => new TrainingClient(connection).GetRunAsync(new GetRunRequest { RunId = "demo" }));

        error.Status.Should().Be(StatusCode.ResourceExhausted);
        error.Detail.Should().Contain(limit.ToString());
    }

    [Fact]
    public async Task RefusedConnectionIsUnavailable()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var connection = new GatewayConnection(new GatewayConnectionOptions { Address = new Uri($"http://127.0.0.1:{port}") });

        var error = await Assert.ThrowsAsync<RpcException>(() => new SamplingClient(connection).ListModelsAsync(new ListModelsRequest()));

        error.Status.Should().Be(StatusCode.Unavailable);
        error.Detail.Should().Contain($"127.0.0.1:{port}");
    }

    [Theory]
    [InlineData(400, StatusCode.Internal)]
    [InlineData(401, StatusCode.Unauthenticated)]
    [InlineData(403, StatusCode.PermissionDenied)]
    [InlineData(404, StatusCode.Unimplemented)]
    [InlineData(415, StatusCode.Internal)]
    [InlineData(429, StatusCode.Unavailable)]
    [InlineData(502, StatusCode.Unavailable)]
    [InlineData(503, StatusCode.Unavailable)]
    [InlineData(504, StatusCode.Unavailable)]
    [InlineData(500, StatusCode.Unknown)]
    public async Task HttpStatusWithoutGrpcStatusMapsAsTheProtocolSays(int httpStatus, StatusCode expected)
    {
        // Behind a path prefix, given without its trailing slash: the method's path goes under it all the same.
        await using var gateway = await FakeGateway.StartAsync(app => app.MapPost("/prefix/{status:int}/olm.v1.SamplingService/ListModels",
            (int status) => Results.StatusCode(status)));
        using var connection = new GatewayConnection(new GatewayConnectionOptions { Address = new Uri(gateway.Address, $"prefix/{httpStatus}") });

        var error = await Assert.ThrowsAsync<RpcException>(() => new SamplingClient(connection).ListModelsAsync(new ListModelsRequest()));

        error.Status.Should().Be(expected);
        error.Detail.Should().Contain(httpStatus.ToString());
    }

    [Fact]
    public async Task ResponseWithoutGrpcStatusIsInternal()
    {
        await using var gateway = await FakeGateway.StartAsync(app => app.MapPost("/olm.v1.SamplingService/ListModels", async context =>
        {
            await FakeGateway.BeginAsync(context);
            await FakeGateway.SendAsync(context, new ListModelsResponse());
        }));
        using var connection = new GatewayConnection(new GatewayConnectionOptions { Address = gateway.Address });

        var error = await Assert.ThrowsAsync<RpcException>(() => new SamplingClient(connection).ListModelsAsync(new ListModelsRequest()));

        error.Status.Should().Be(StatusCode.Internal);
        error.Detail.Should().Contain("grpc-status");
    }

    [Fact]
    public async Task AnswerThatIsNotGrpcIsInternal()
    {
        await using var gateway = await FakeGateway.StartAsync(app => app.MapPost("/olm.v1.SamplingService/ListModels", () => Results.Text("hello")));
        using var connection = new GatewayConnection(new GatewayConnectionOptions { Address = gateway.Address });

        var error = await Assert.ThrowsAsync<RpcException>(() => new SamplingClient(connection).ListModelsAsync(new ListModelsRequest()));

        error.Status.Should().Be(StatusCode.Internal);
        error.Detail.Should().Contain("text/plain");
    }

    [Fact]
    public async Task TlsNegotiatesHttp2AndTrustsAGivenAuthorityOnly()
    {
        using var authority = CertificateAuthority.Create();
        using var serverCertificate = authority.Issue();
        string? protocol = null;
        await using var gateway = await FakeGateway.StartAsync(app => app.MapPost("/olm.v1.SamplingService/ListModels", async context =>
        {
            protocol = context.Request.Protocol;
            await FakeGateway.ReadRequestAsync(context, ListModelsRequest.Parser);
            await FakeGateway.BeginAsync(context);
            await FakeGateway.SendAsync(context, new ListModelsResponse { Models = { new ModelInfo { Model = "run:demo" } } });
            FakeGateway.End(context, StatusCode.OK);
        }), serverCertificate);
        gateway.Address.Scheme.Should().Be("https");

        using (var trusting = new GatewayConnection(new GatewayConnectionOptions { Address = gateway.Address, TrustedAuthorities = [authority.PublicCertificate()] }))
        {
            var models = await new SamplingClient(trusting).ListModelsAsync(new ListModelsRequest());
            models.Models.Should().ContainSingle().Which.Model.Should().Be("run:demo");
            protocol.Should().Be("HTTP/2", "ALPN chose h2");
        }

        using var untrusting = new GatewayConnection(new GatewayConnectionOptions { Address = gateway.Address });
        var error = await Assert.ThrowsAsync<RpcException>(() => new SamplingClient(untrusting).ListModelsAsync(new ListModelsRequest()));
        error.Status.Should().Be(StatusCode.Unavailable);
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal)) gzip.Write(data);
        return output.ToArray();
    }

    private static byte[] Gunzip(byte[] data)
    {
        using var gzip = new GZipStream(new MemoryStream(data), CompressionMode.Decompress);
        using var output = new MemoryStream();
        gzip.CopyTo(output);
        return output.ToArray();
    }
}

/// <summary>A throwaway certificate authority and server certificates for 127.0.0.1 that it signs.</summary>
internal sealed class CertificateAuthority(X509Certificate2 certificate) : IDisposable
{
    public static CertificateAuthority Create()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=OrleansLm test CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        return new CertificateAuthority(request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1)));
    }

    /// <summary>The authority's certificate without its private key, as a client gets it.</summary>
    public X509Certificate2 PublicCertificate() => X509CertificateLoader.LoadCertificate(certificate.RawData);

    /// <summary>The authority's certificate as PEM, as <c>--ca-cert</c> reads it.</summary>
    public string Pem() => certificate.ExportCertificatePem();

    /// <summary>A server certificate (with its private key) for 127.0.0.1 and localhost.</summary>
    public X509Certificate2 Issue()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, 0, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        using var signed = request.Create(certificate, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(50), RandomNumberGenerator.GetBytes(8));
        return signed.CopyWithPrivateKey(key);
    }

    public void Dispose() => certificate.Dispose();
}
