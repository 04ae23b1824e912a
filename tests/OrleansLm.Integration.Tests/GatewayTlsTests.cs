using System.Net;
using System.Security.Authentication;
using OrleansLm.Protos.Health.V1;
using OrleansLm.Protos.V1;

namespace OrleansLm.Integration.Tests;

/// <summary>The gateway on https://, with the PEM certificate and key an operator gives it (<see cref="TlsGatewaySilo"/>).</summary>
public sealed class GatewayTlsTests(TlsGatewaySilo silo) : IClassFixture<TlsGatewaySilo>
{
    [Fact]
    public async Task GrpcioClientTrustingTheCertificateCallsThroughTls()
    {
        silo.Address.Scheme.Should().Be("https");
        var exported = await silo.TrainModelAsync("tls-model", steps: 3);
        var checks = await PythonGatewayClient.RunAsync(silo, "tls", "--root-cert", silo.CertificatePath);
        checks["tls_health"].Text("server").Should().Be("SERVING");
        checks["tls_list_models"].Texts("models").Should().Equal("run:tls-model", exported.Model);
        checks["tls_list_models"].Error("without_token").Code.Should().Be("UNAUTHENTICATED");
    }

    [Fact]
    public async Task HttpClientTrustingTheCertificateChecksHealth()
    {
        using var client = silo.Client();
        (await client.HealthAsync()).Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    [Fact]
    public async Task Http11ThroughTlsIsToldThatGrpcNeedsHttp2()
    {
        // Through TLS the endpoint speaks both HTTP versions (ALPN chooses); the gateway itself refuses HTTP/1.1.
        using var http = new HttpClient(RawGrpcClient.Trusting(silo.Certificate));
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(silo.Address, "/grpc.health.v1.Health/Check"))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(RawGrpcClient.Frame(new HealthCheckRequest())),
        };
        request.Content.Headers.ContentType = new("application/grpc");
        using var response = await http.SendAsync(request);
        response.StatusCode.Should().Be(HttpStatusCode.UpgradeRequired);
        response.Headers.GetValues("grpc-message").Single().Should().Be("gRPC needs HTTP/2, this request came over HTTP/1.1");
    }

    [Fact]
    public async Task ClientThatDoesNotTrustTheCertificateIsTurnedAway()
    {
        // The control for the tests above: the certificate is checked, and only the one written for the gateway passes.
        using var client = new RawGrpcClient(silo.Address);
        var check = () => client.HealthAsync();
        (await check.Should().ThrowAsync<HttpRequestException>()).WithInnerException<AuthenticationException>();
    }
}
