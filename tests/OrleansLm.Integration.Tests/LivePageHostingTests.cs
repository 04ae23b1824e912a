using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Google.Protobuf;
using Microsoft.AspNetCore.Mvc.Testing;
using OrleansLm.Protos.V1;

namespace OrleansLm.Integration.Tests;

/// <summary>When the silo serves the live page and who may read it, by configuration (the silo in-process).</summary>
public sealed class LivePageHostingTests(SiloFactory factory) : IClassFixture<SiloFactory>
{
    [Fact]
    public async Task PageAndItsEndpointsAreOffWhenTheGatewayIs()
    {
        using var silo = factory.WithWebHostBuilder(host => host.UseSetting("Gateway:Listen", ""));
        using var http = silo.CreateClient();
        foreach (var path in new[] { "/", "/live.js", "/api/runs", "/api/models" })
            (await http.GetAsync(path)).StatusCode.Should().Be(HttpStatusCode.NotFound, path);
        (await http.GetAsync("/healthz")).StatusCode.Should().Be(HttpStatusCode.OK, "the silo itself serves");
    }

    [Fact]
    public async Task AnonymousSamplingOpensTheEndpointsWithoutAToken()
    {
        using var closed = factory.CreateClient();
        (await closed.GetAsync("/api/runs")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await closed.GetAsync("/")).StatusCode.Should().Be(HttpStatusCode.OK, "the page itself needs no token");

        using var silo = factory.WithWebHostBuilder(host => host.UseSetting("Gateway:AnonymousSampling", "true"));
        using var open = silo.CreateClient();
        JsonNode.Parse(await open.GetStringAsync("/api/runs"))!["runs"]!.AsArray().Should().BeEmpty("no run has started in this cluster");
        JsonParser.Default.Parse<ListModelsResponse>(await open.GetStringAsync("/api/models")).Models
            .Should().NotContain(m => m.Source == ModelInfo.Types.Source.Run, "no run has started in this cluster");
        using var unknown = await open.GetAsync("/api/runs/nope");
        unknown.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
