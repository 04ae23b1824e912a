using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace OrleansLm.Integration.Tests;

/// <summary>The silo in-process, its cluster port on a free loopback port so test hosts never collide.</summary>
public class SiloFactory : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder) => builder.UseSetting("Cluster:Listen", "127.0.0.1:0");
}
