using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using OrleansLm.Silo.Gateway;

namespace OrleansLm.Integration.Tests.Metrics;

/// <summary>
/// The silo in-process on real sockets (Kestrel rather than the test server): its own HTTP/1.1 URL and the gRPC
/// gateway (h2c) each on a free loopback port, so that tests can tell the two apart.
/// </summary>
public sealed class KestrelSiloFactory : SiloFactory
{
    public KestrelSiloFactory() => UseKestrel();

    /// <summary>The silo's own HTTP/1.1 URL (/healthz, /metrics).</summary>
    public Uri SiloUrl => Addresses().Single(address => address.Port != GatewayPort);

    /// <summary>The gRPC gateway's URL.</summary>
    public Uri GatewayUrl => Addresses().Single(address => address.Port == GatewayPort);

    private int GatewayPort => Services.GetRequiredService<GatewayListeners>().Port;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting(WebHostDefaults.ServerUrlsKey, "http://127.0.0.1:0").UseSetting("Gateway:Listen", "http://127.0.0.1:0");
    }

    private IEnumerable<Uri> Addresses()
    {
        StartServer();
        return Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(address => new Uri(address));
    }
}
