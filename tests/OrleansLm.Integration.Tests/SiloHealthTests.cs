using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Options;
using OrleansLm.Client;
using OrleansLm.Model.Torch;
using OrleansLm.Protos.V1;

namespace OrleansLm.Integration.Tests;

public class SiloHealthTests(SiloFactory factory) : IClassFixture<SiloFactory>
{
    [Fact]
    public async Task HealthEndpointReportsServingWithTheLoadedLibtorch()
    {
        using var http = factory.CreateClient();
        using var response = await http.GetAsync("/healthz");
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");

        var health = await new SiloClient(http).GetHealthAsync();
        health.Status.Should().Be(SiloHealth.Types.Status.Serving);
        health.TorchVersion.Should().Be(LibTorch.Version).And.StartWith("1.");
        health.TorchThreads.Should().BePositive();
        health.SiloName.Should().NotBeEmpty();
    }

    [Fact]
    public async Task ConfiguredNameAndThreadsAppearInTheReport()
    {
        var threadsBefore = LibTorch.NumThreads;
        try
        {
            using var configured = factory.WithWebHostBuilder(host => host
                .UseSetting("Silo:Name", "silo-under-test")
                .UseSetting("Silo:TorchThreads", "1"));
            using var http = configured.CreateClient();
            var health = await new SiloClient(http).GetHealthAsync();
            health.SiloName.Should().Be("silo-under-test");
            health.TorchThreads.Should().Be(1);
        }
        finally
        {
            LibTorch.NumThreads = threadsBefore;
        }
    }

    [Fact]
    public void InvalidConfigurationStopsStartupNamingTheField()
    {
        using var misconfigured = factory.WithWebHostBuilder(host => host.UseSetting("Silo:TorchThreads", "-4"));
        var start = () => misconfigured.CreateClient();
        start.Should().Throw<OptionsValidationException>().WithMessage("*TorchThreads*");
    }

    [Fact]
    public async Task ClientRejectsAServerThatDoesNotSpeakSiloHealth()
    {
        await using var server = await StartLoopbackServer(context =>
        {
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync("{\"status\": 17, \"unknownField\": true}");
        });
        using var http = new HttpClient { BaseAddress = server.Address };
        var call = () => new SiloClient(http).GetHealthAsync();
        (await call.Should().ThrowAsync<SiloClientException>()).WithMessage("*not a SiloHealth*");
    }

    [Fact]
    public async Task ClientReportsUnexpectedStatusCodesWithTheBody()
    {
        await using var server = await StartLoopbackServer(context =>
        {
            context.Response.StatusCode = StatusCodes.Status418ImATeapot;
            return context.Response.WriteAsync("short and stout");
        });
        using var http = new HttpClient { BaseAddress = server.Address };
        var call = () => new SiloClient(http).GetHealthAsync();
        (await call.Should().ThrowAsync<SiloClientException>()).WithMessage("*418*short and stout*");
    }

    private static async Task<LoopbackServer> StartLoopbackServer(RequestDelegate handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Run(handler);
        await app.StartAsync();
        return new LoopbackServer(app, new Uri(app.Urls.Single() + "/"));
    }

    private sealed record LoopbackServer(WebApplication App, Uri Address) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => App.DisposeAsync();
    }
}
