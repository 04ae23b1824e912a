using Microsoft.Extensions.Logging;
using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Membership;
using OrleansLm.Silo.Grains;
using OrleansLm.Silo.Runs;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// Silos with the training grains in this process: real loopback transport between them, one in-memory membership
/// table. Every silo has started and seen the others when <see cref="StartAsync"/> returns.
/// </summary>
public sealed class InProcessCluster : IAsyncDisposable
{
    private readonly List<ClusterSilo> silos = [];

    private InProcessCluster()
    {
    }

    public IReadOnlyList<ClusterSilo> Silos => silos;

    public ClusterSilo this[int index] => silos[index];

    /// <summary>A silo with the worker role and one device.</summary>
    public static SiloShape Worker { get; } = new([SiloGrains.WorkerRole], Devices: 1);

    /// <summary>A silo that takes no workers: what a test calls from, so coordinators (prefer-local) land there.</summary>
    public static SiloShape Caller { get; } = new([], Devices: 0);

    /// <param name="storage">Shared by every silo (so a coordinator that moves finds its run); null gives each silo its own.</param>
    public static async Task<InProcessCluster> StartAsync(string name, IReadOnlyList<SiloShape> shapes, RunStorage? storage = null, ILoggerFactory? loggers = null)
    {
        var cluster = new InProcessCluster();
        var table = new InMemoryMembershipTable();
        try
        {
            foreach (var shape in shapes)
            {
                var silo = new ClusterSilo(new ClusterSiloOptions
                {
                    ClusterId = name, ClusterSecret = $"cluster-{name}-test", MembershipTable = table, Roles = shape.Roles, Devices = shape.Devices,
                }, grains => SiloGrains.Register(grains, storage ?? RunStorage.InProcess()), loggers);
                cluster.silos.Add(silo);
                await silo.StartAsync(CancellationToken.None);
            }
            await Task.WhenAll(cluster.silos.Select(s => s.Membership.RefreshAsync(CancellationToken.None)));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var silo in silos) await silo.DisposeAsync();
    }
}

public sealed record SiloShape(string[] Roles, int Devices);
