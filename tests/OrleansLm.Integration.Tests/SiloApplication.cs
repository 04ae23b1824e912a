using System.Globalization;
using System.Net;
using OrleansLm.Runtime.Cluster;
using OrleansLm.Silo.Gateway;
using OrleansLm.Silo.Hosting;
using OrleansLm.Testing;
using OrleansLm.Testing.Processes;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// The silo application (silo/, OrleansLm.Silo.dll, built beside these tests with its libolmtorch.so) as processes of
/// a <see cref="ProcessCluster"/>, configured as an operator would: OLM_* environment variables and --urls.
/// </summary>
public static class SiloApplication
{
    /// <param name="checkpointRoot">Cluster:CheckpointRoot; null for the application's default (relative to the tests' directory).</param>
    public static SiloLaunch Launch(ProcessCluster cluster, string postgres, IReadOnlyList<string> roles, int devices, string? checkpointRoot = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["OLM_Cluster__ClusterId"] = cluster.ClusterId,
            ["OLM_Cluster__Secret"] = ProcessCluster.Secret,
            ["OLM_Cluster__Listen"] = "127.0.0.1:0",
            // Each process's gateway on a port of its own.
            ["OLM_Gateway__Listen"] = "http://127.0.0.1:0",
            ["OLM_Cluster__Postgres"] = postgres,
            ["OLM_Cluster__Devices"] = devices.ToString(CultureInfo.InvariantCulture),
            // The processes share the machine's cores: one libtorch thread each keeps them from fighting over them.
            ["OLM_Silo__TorchThreads"] = "1",
            ["OLM_Logging__Console__FormatterName"] = "simple",
            ["OLM_Logging__Console__FormatterOptions__SingleLine"] = "true",
        };
        if (checkpointRoot is not null)
            environment["OLM_Cluster__CheckpointRoot"] = checkpointRoot;
        for (var i = 0; i < roles.Count; i++)
            environment[$"OLM_Cluster__Roles__{i}"] = roles[i];
        return SiloLaunch.DotnetProgram("OrleansLm.Silo.dll", ["--urls", "http://127.0.0.1:0"], ClusterHost.ReadyLine)
            with { Environment = environment };
    }

    /// <summary>The gateway URL a silo process printed (<see cref="GatewayHosting.GatewayLine"/>), waiting up to <paramref name="timeout"/> for it.</summary>
    public static async Task<Uri> GatewayAsync(SiloProcess silo, TimeSpan timeout)
    {
        await Eventually.HoldsAsync(() => GatewayOf(silo) is not null, timeout, $"{silo.Name} prints its gateway's URL");
        return GatewayOf(silo)!;
    }

    /// <summary>The gateway URL a silo process has printed so far; null before.</summary>
    public static Uri? GatewayOf(SiloProcess silo) =>
        silo.Lines.FirstOrDefault(l => l.StartsWith(GatewayHosting.GatewayLine, StringComparison.Ordinal)) is { } line
            ? new Uri(line[GatewayHosting.GatewayLine.Length..])
            : null;

    /// <summary>The test's own silo: no roles and no devices, so no worker lands on it; the application's membership timings.</summary>
    public static ClusterSiloOptions Caller(ProcessCluster cluster, string postgres) => new()
    {
        ClusterId = cluster.ClusterId,
        ClusterSecret = ProcessCluster.Secret,
        PostgresConnectionString = postgres,
        EndPoint = new IPEndPoint(IPAddress.Loopback, 0),
        Roles = [],
        Devices = 0,
    };
}
