using Microsoft.Extensions.Configuration;
using OrleansLm.Model.Torch;
using OrleansLm.Silo.Grains;
using OrleansLm.Silo.Hosting;

namespace OrleansLm.Integration.Tests;

/// <summary>The "Cluster" section as the silo binds it (OLM_Cluster__* environment variables arrive the same way).</summary>
public sealed class ClusterOptionsTests
{
    [Fact]
    public void ConfiguredRolesReplaceTheDefaultWorkerRole() =>
        Bind(new() { ["Cluster:Roles:0"] = "gateway", ["Cluster:Roles:1"] = "evaluator" }).ToSiloOptions().Roles
            .Should().Equal("gateway", "evaluator");

    [Fact]
    public void ASiloWithoutConfiguredRolesIsAWorker() =>
        Bind([]).ToSiloOptions().Roles.Should().Equal(SiloGrains.WorkerRole);

    [Fact]
    public void ASiloOffersItsGpusOrElseOneDeviceUnlessDevicesIsSet()
    {
        Bind([]).ToSiloOptions().Devices.Should().Be(Math.Max(1, LibTorch.CudaDeviceCount));
        Bind(new() { ["Cluster:Devices"] = "4" }).ToSiloOptions().Devices.Should().Be(4);
        Bind(new() { ["Cluster:Devices"] = "0" }).ToSiloOptions().Devices.Should().Be(0, "a silo may offer no device: it then runs no workers");
    }

    private static ClusterOptions Bind(Dictionary<string, string?> settings)
    {
        var options = new ClusterOptions();
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build().GetSection(ClusterOptions.Section).Bind(options);
        return options;
    }
}
